"""resdsl.build(..., backend="keras"): conventions that a wrong choice would
silently break — -inf max-pool padding, BN eps/momentum, nested layers that
still carry the IR's names, summary, fused batch norm."""
from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import resdsl
from resdsl.backends.keras import layer_map, layer_shapes
from resdsl.backends.keras.fold import fused_norms

POOL_FIRST = """\
resdsl: 1
name: pool_first
input: {height: 9, width: 9, channels: 2}
stem: [{maxpool: {size: 3, stride: 2, padding: 1, name: pool}}]
stages: [{block: basic, filters: 2, repeat: 1}]
head: [global_avgpool, {dense: {units: 2, name: fc}}]
"""


def test_maxpool_pads_with_minus_infinity():
    """On an all-negative input, zero padding would put 0 on every border cell."""
    model = resdsl.build(POOL_FIRST, backend="keras")
    pool = layer_map(model)
    x = -1.0 - np.random.default_rng(0).random((1, 9, 9, 2)).astype("float32")
    y = keras.ops.convert_to_numpy(pool["pool"](pool["pool_pad"](x)))
    assert y.shape == (1, 5, 5, 2)
    assert (y < 0).all()
    assert y[0, 0, 0, 0] == x[0, :2, :2, 0].max()


@pytest.mark.parametrize("spec, eps, momentum", [("cifar_resnet20", 1e-5, 0.9), ("resnet50_keras", 1.001e-5, 0.99),
                                                 ("cifar10_resnet30", 1e-3, 0.99)])
def test_batchnorm_conventions(spec, eps, momentum):
    model = resdsl.build(spec, backend="keras")
    norms = [layer for layer in layer_map(model).values() if isinstance(layer, keras.layers.BatchNormalization)]
    assert norms and all(n.epsilon == pytest.approx(eps) and n.momentum == pytest.approx(momentum) for n in norms)


def test_nested_layers_keep_ir_names_and_summary_reads_well():
    r = resdsl.resolve("resnet50v2")
    model = resdsl.build("resnet50v2", backend="keras")
    top = [layer.name for layer in model.layers]
    assert top[:3] == ["input", "conv1_pad", "conv1_conv"] and "conv3" in top and top[-1] == "predictions"
    names = set(layer_map(model))
    assert {n for n in r.graph} <= names  # every IR node is a layer of that name
    lines = []
    model.summary(expand_nested=True, print_fn=lambda s, **_: lines.append(s), line_length=120)
    text = "\n".join(lines)
    assert "conv3.0.downsample.0" in text and "conv5.2.preact_bn" in text
    assert f"{model.count_params():,}" in text


def test_fused_batch_norm_drops_the_folded_norms():
    r = resdsl.resolve("resnet18")
    model = resdsl.build("resnet18", backend="keras", fuse_bn=True)
    folds = fused_norms(r)
    assert len(folds) == sum(1 for _, d in r.graph.nodes(data=True) if d["op"] == "norm")
    names = layer_map(model)
    assert not set(folds) & set(names)
    assert all(names[conv].use_bias for conv in folds.values())
    removed = sum(r.graph.nodes[n]["params"] + r.graph.nodes[n]["buffers"] for n in folds)
    added = sum(r.graph.nodes[c]["attrs"]["filters"] for c in folds.values() if not r.graph.nodes[c]["attrs"]["bias"])
    assert model.count_params() == r.params + r.buffers - removed + added
    assert layer_shapes(model, r, fuse_bn=True)[r.output] == (None, 1000)


def test_pre_activation_norms_are_not_fused():
    """ReLU-then-BN (article 000) has no conv right before the BN: nothing to fold there."""
    r = resdsl.resolve("cifar10_resnet30")
    assert all(r.graph.nodes[c]["op"] == "conv" for c in fused_norms(r).values())
    assert "bn1" not in fused_norms(r)


def test_unknown_build_option_is_refused():
    """A misspelt option must not be ignored silently."""
    with pytest.raises(TypeError, match="fusebn"):
        resdsl.build(POOL_FIRST, backend="keras", fusebn=True)
    with pytest.raises(TypeError, match="fusebn"):
        resdsl.emit(POOL_FIRST, backend="keras", fusebn=True)


def test_trains_through_the_nested_layers():
    """fit() reaches every weight inside Stage/Block layers, and BN runs in training mode there."""
    model = resdsl.build(POOL_FIRST, backend="keras")
    layers = layer_map(model)
    conv, bn = layers["layer1.0.conv1"], layers["layer1.0.bn1"]
    kernel, mean = keras.ops.convert_to_numpy(conv.kernel), keras.ops.convert_to_numpy(bn.moving_mean)
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(0)
    model.fit(rng.random((8, 9, 9, 2)).astype("float32"), rng.integers(0, 2, 8), epochs=1, verbose=0)
    assert not np.allclose(kernel, keras.ops.convert_to_numpy(conv.kernel))
    assert not np.allclose(mean, keras.ops.convert_to_numpy(bn.moving_mean))
    assert len(model.trainable_weights) == sum(len(x.trainable_weights) for x in layers.values())


PREACT_OPTION_A = """\
resdsl: 1
name: preact_option_a
input: {height: 12, width: 12, channels: 4}
defaults: {conv: {bias: true}}
stem: [{conv: {filters: 6, kernel: 1}}]
stages: [{block: preact_bottleneck, filters: 6, repeat: 1, expansion: 2, shortcut: zeropad}]
head: [global_avgpool, {dense: {units: 2}}]
"""


def test_a_biased_conv_added_to_a_channel_padded_shortcut_runs_in_graph_mode():
    """TensorFlow's oneDNN graph rewrite crashed the process (segfault) in predict on
    a biased conv added to a padded tensor; ChannelPad joins zero channels instead.
    In a subprocess, so that a crash fails this test rather than the test run."""
    import subprocess
    import sys

    code = ("import numpy as np, resdsl, sys\n"
            "m = resdsl.build(sys.argv[1], backend='keras')\n"
            "print(m.predict(np.ones((2, 12, 12, 4), 'float32'), verbose=0).shape)\n")
    run = subprocess.run([sys.executable, "-c", code, PREACT_OPTION_A], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip().endswith("(2, 2)")
    pad = keras.ops.convert_to_numpy(__import__("resdsl.backends.keras.extra", fromlist=["x"]).ChannelPad(2, 3)(
        np.arange(8, dtype="float32").reshape(1, 1, 2, 4)))
    assert pad.shape == (1, 1, 2, 9) and (pad[..., :2] == 0).all() and (pad[..., 6:] == 0).all()
    assert (pad[..., 2:6] == np.arange(8).reshape(1, 1, 2, 4)).all()
