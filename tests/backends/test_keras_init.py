"""Initial weights of the Keras build: the IR's `init` names mean the Keras
initializers rules.KERNEL_INIT says (emitted modules and `build` draw with
them), PyTorch's default bias bound, BatchNorm's ones and zeros, seeded
reproducibility, and variables under their Keras paths."""
from __future__ import annotations

import math

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import resdsl
from resdsl.backends.keras import layer_map, rules

# What the IR's init names mean in Keras terms.
REFERENCE = {"torch_default": lambda: keras.initializers.VarianceScaling(1 / 3, "fan_in", "uniform", seed=1),
             "kaiming_normal_fan_out": lambda: keras.initializers.VarianceScaling(2.0, "fan_out",
                                                                                  "untruncated_normal", seed=1),
             "kaiming_normal_fan_in": lambda: keras.initializers.VarianceScaling(2.0, "fan_in",
                                                                                 "untruncated_normal", seed=1),
             "glorot_uniform": lambda: keras.initializers.GlorotUniform(seed=1),
             "glorot_normal": lambda: keras.initializers.GlorotNormal(seed=1)}


def test_every_init_has_a_reference():
    """Emitted modules draw with VarianceScaling(*rules.KERNEL_INIT[init]): the reference's arguments."""
    assert set(REFERENCE) == set(rules.KERNEL_INIT)
    for init, (scale, mode, distribution) in rules.KERNEL_INIT.items():
        ref = REFERENCE[init]()  # GlorotUniform and GlorotNormal are VarianceScaling too
        assert (ref.scale, ref.mode, ref.distribution) == (pytest.approx(scale), mode, distribution), init


TORCH_DEFAULT = """\
resdsl: 1
name: torch_default
input: {height: 8, width: 8, channels: 16}
defaults: {conv: {bias: true, init: torch_default}}
stem: [{conv: {filters: 64, kernel: 3, padding: 1}}]
stages: []
head: [global_avgpool, {dense: {units: 4096, init: torch_default}}]
"""


def test_torch_default_weights_and_biases_are_uniform_in_one_over_sqrt_fan_in():
    model = resdsl.build(TORCH_DEFAULT, backend="keras")
    layers = layer_map(model)
    for name, fan_in in (("conv1", 3 * 3 * 16), ("fc1", 64)):
        kernel, bias = (keras.ops.convert_to_numpy(w) for w in layers[name].weights)
        bound = 1 / math.sqrt(fan_in)
        for values in (kernel, bias):
            assert np.abs(values).max() <= bound and np.abs(values).max() > 0.9 * bound, name
        assert kernel.std() == pytest.approx(bound / math.sqrt(3), rel=0.05)


def _weights(seed):
    keras.utils.set_random_seed(seed)
    return [w.copy() for w in resdsl.build("cifar_resnet20", backend="keras").get_weights()]


def test_builds_are_reproducible_under_keras_seed():
    a, b, c = _weights(7), _weights(7), _weights(8)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, z) for x, z in zip(a, c))


def test_variables_are_tracked_with_their_keras_paths():
    r = resdsl.resolve("cifar_resnet20")
    model = resdsl.build(r, backend="keras")
    trainable = sum(int(np.prod(v.shape)) for v in model.trainable_weights)
    frozen = sum(int(np.prod(v.shape)) for v in model.non_trainable_weights)
    assert (trainable, frozen) == (r.params, r.buffers)
    conv = layer_map(model)["layer2.0.conv1"]
    assert conv.kernel.path.endswith("layer2.0.conv1/kernel")
    assert len({v.path for v in model.weights}) == len(model.weights)


def test_batch_norm_starts_at_the_identity_or_at_zero():
    model = resdsl.build("resnet18", backend="keras")  # zero_init_residual off: gammas are ones
    bn = layer_map(model)["layer1.0.bn2"]
    got = {v.name: keras.ops.convert_to_numpy(v) for v in bn.weights}
    assert set(np.unique(got["gamma"])) == {1.0} and set(np.unique(got["moving_variance"])) == {1.0}
    assert not got["beta"].any() and not got["moving_mean"].any()
    zero = resdsl.build("extends: resnet18\nname: z\ndefaults: {norm: {zero_init_last: true}}\n", backend="keras")
    assert not keras.ops.convert_to_numpy(layer_map(zero)["layer1.0.bn2"].gamma).any()
