"""The fast paths of the Keras build: initial weights drawn with numpy
(keras_init.Draw) must follow the distributions of the Keras initializers the
IR's `init` names; variables created outside TensorFlow's name scopes must
keep their Keras paths and be tracked as before; the garbage collector must
be left as the caller had it."""
from __future__ import annotations

import gc
import math

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import resdsl
from resdsl.backends.keras import initializers as keras_init
from resdsl.backends.keras import layer_map, rules

# What the IR's init names mean in Keras terms: the reference Draw must match.
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


@pytest.mark.parametrize("init", sorted(rules.KERNEL_INIT))
@pytest.mark.parametrize("shape", [(3, 3, 32, 64), (256, 96)])
def test_draw_follows_the_keras_initializer(init, shape):
    ours = keras_init.Draw(init, seed=3)(shape, dtype="float32")
    ref = keras.ops.convert_to_numpy(REFERENCE[init]()(shape, dtype="float32"))
    assert ours.shape == ref.shape and ours.dtype == np.float32
    assert abs(ours.mean()) < 0.05 * ref.std()
    assert ours.std() == pytest.approx(ref.std(), rel=0.03)
    # Same support: uniform limits, normal tails, truncation at two deviations.
    assert np.abs(ours).max() == pytest.approx(np.abs(ref).max(), rel=0.25)


def test_torch_default_bias_is_uniform_in_one_over_sqrt_fan_in():
    init = keras_init.bias("torch_default", fan_in=144)
    values = init((4096,), dtype="float32")
    bound = 1 / math.sqrt(144)
    assert np.abs(values).max() <= bound and np.abs(values).max() > 0.95 * bound
    assert values.std() == pytest.approx(bound / math.sqrt(3), rel=0.05)
    assert keras_init.bias("kaiming_normal_fan_out", fan_in=144) == "zeros"


def test_an_initializer_repeats_its_draw_and_saves_its_seed():
    a = keras_init.Draw("glorot_uniform")
    again = keras_init.Draw.from_config(a.get_config())
    np.testing.assert_array_equal(a((5, 7), "float32"), again((5, 7), "float32"))
    assert not np.array_equal(a((5, 7), "float32"), keras_init.Draw("glorot_uniform")((5, 7), "float32"))


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
    if keras.backend.backend() == "tensorflow":
        # Outside TensorFlow's name scopes the handle names repeat, so the
        # eager kernel cache hits (see keras_layers.fast_variables).
        assert conv.kernel.value.name == "kernel:0"


def test_the_garbage_collector_is_left_as_it_was(monkeypatch):
    assert gc.isenabled()
    resdsl.build("cifar_resnet20", backend="keras")
    assert gc.isenabled()
    gc.disable()
    try:
        resdsl.build("cifar_resnet20", backend="keras")
        assert not gc.isenabled()
    finally:
        gc.enable()
    from resdsl.backends.keras import layers as keras_layers

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(keras_layers, "Stage", broken)
    with pytest.raises(RuntimeError, match="boom"):
        resdsl.build("cifar_resnet20", backend="keras")
    assert gc.isenabled()


def test_batch_norm_starts_at_the_identity_or_at_zero():
    model = resdsl.build("resnet18", backend="keras")  # zero_init_residual off: gammas are ones
    bn = layer_map(model)["layer1.0.bn2"]
    got = {v.name: keras.ops.convert_to_numpy(v) for v in bn.weights}
    assert set(np.unique(got["gamma"])) == {1.0} and set(np.unique(got["moving_variance"])) == {1.0}
    assert not got["beta"].any() and not got["moving_mean"].any()
    init = keras_init.norm("zeros")
    assert not keras.ops.convert_to_numpy(init["gamma_initializer"]((8,), "float32")).any()
    assert keras.ops.convert_to_numpy(init["moving_variance_initializer"]((8,), "float32")).tolist() == [1.0] * 8


def test_variables_made_from_one_cached_constant_stay_apart():
    """On TensorFlow every moving mean starts from one cached tensor: updating one
    variable must change neither the others nor the next model's."""
    model = resdsl.build("cifar_resnet20", backend="keras")
    a, b = layer_map(model)["layer1.0.bn1"], layer_map(model)["layer1.1.bn1"]
    a.moving_mean.assign(a.moving_mean + 1.0)
    assert not keras.ops.convert_to_numpy(b.moving_mean).any()
    x = np.random.default_rng(0).normal(size=(4, 32, 32, 3)).astype("float32")
    model(x, training=True)  # batch norms update their statistics in place
    again = layer_map(resdsl.build("cifar_resnet20", backend="keras"))["layer1.0.bn1"]
    assert not keras.ops.convert_to_numpy(again.moving_mean).any()
    assert set(np.unique(keras.ops.convert_to_numpy(again.moving_variance))) == {1.0}
