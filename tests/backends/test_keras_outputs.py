"""Several outputs in Keras: the model returns them in the spec's order, named
as the spec names them, through saving and loading; the emitted module builds
the same model; outputs inside stages work at any input size and with folded
batch norm. (Equality with PyTorch: tests/test_cross_framework.py.)"""
from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import resdsl

TAPPED = """\
extends: cifar_resnet20
name: tapped
outputs: [relu, layer1, layer2.1, layer2.2.conv2, layer3.0.bn1, layer3, fc]
"""


def _values(model, x) -> list[np.ndarray]:
    return [keras.ops.convert_to_numpy(y) for y in model(x, training=False)]


@pytest.fixture(scope="module")
def built():
    r = resdsl.resolve(TAPPED)
    model = resdsl.build(r, backend="keras")
    x = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype("float32")
    return r, model, x


def test_outputs_in_order_with_the_specs_names(built):
    r, model, x = built
    assert model.output_names == r.output_names
    ys = _values(model, x)
    assert [y.shape[1:] for y in ys] == [(*s[1:], s[0]) if len(s) == 3 else s for s in r.output_shapes]
    from resdsl.backends.keras import trace
    every = trace(model, r, x)  # layer by layer, following the IR
    for name, node, y in zip(r.output_names, r.outputs, ys):
        np.testing.assert_allclose(y, keras.ops.convert_to_numpy(every[node]), rtol=1e-5, atol=1e-5, err_msg=name)


def test_saved_model_keeps_its_outputs(built, tmp_path):
    r, model, x = built
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert loaded.output_names == r.output_names
    for a, b in zip(_values(model, x), _values(loaded, x), strict=True):
        np.testing.assert_array_equal(a, b)


def test_emitted_module_builds_the_same_model(built, tmp_path, import_file):
    r, model, x = built
    path = tmp_path / "tapped_keras.py"
    path.write_text(resdsl.emit(r, backend="keras"), encoding="utf-8")
    emitted = import_file(path, "tapped_keras").build_model()
    assert emitted.output_names == r.output_names
    resdsl.port_weights(model, emitted)
    for name, a, b in zip(r.output_names, _values(model, x), _values(emitted, x), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5, err_msg=name)


def test_outputs_inside_stages_at_any_input_size():
    r = resdsl.resolve("extends: resnet18\nname: f\nhead: []\noutputs: [layer1.0, layer2, layer3.1.conv1, layer4]\n")
    assert r.allows_any_input_size()
    model = resdsl.build(r, backend="keras")
    assert model.input.shape[1:3] == (None, None)
    ys = _values(model, np.zeros((1, 96, 96, 3), "float32"))
    assert [y.shape for y in ys] == [(1, 24, 24, 64), (1, 12, 12, 128), (1, 6, 6, 256), (1, 3, 3, 512)]


def test_folded_batchnorm_keeps_every_output(built):
    """A conv the network returns keeps its norm, in that kind of block everywhere,
    as in the PyTorch build: weights port between the two fused builds."""
    torch = pytest.importorskip("torch")
    import sys
    r, model, x = built
    source = resdsl.build(r, fuse_bn=True)
    module = sys.modules[type(source).__module__]
    source = module.build_model(fused=False)
    resdsl.port_weights(model, source)
    module.fold_batchnorm(source)
    fused = resdsl.build(r, backend="keras", fuse_bn=True)
    resdsl.port_weights(source, fused)
    assert fused.output_names == r.output_names
    with torch.no_grad():
        ts = [y.numpy() for y in source(torch.from_numpy(x.transpose(0, 3, 1, 2)))]
    for name, a, b, t in zip(r.output_names, _values(model, x), _values(fused, x), ts, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4, err_msg=name)
        np.testing.assert_allclose(b, t.transpose(0, 2, 3, 1) if t.ndim == 4 else t, rtol=1e-4, atol=1e-4)
