"""port_weights refuses what does not fit — naming the first layer — before
writing anything, and imports a framework only when given one of its models."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import resdsl
from resdsl.backends.port import PortError

TINY = """\
resdsl: 1
name: {name}
input: {{height: 16, width: 16, channels: 3}}
stem: [{{conv: {{filters: 8, kernel: 3, padding: 1, name: conv1}}}}, {{norm: {{name: bn1}}}}, act]
stages: [{{block: basic, filters: {filters}, repeat: {repeat}, stride: 2}}]
head: [flatten, {{dense: {{units: 4, name: fc}}}}]
"""


def tiny(name="tiny", filters=8, repeat=1):
    return TINY.format(name=name, filters=filters, repeat=repeat)


def weights(model):
    return [np.array(w) for w in model.get_weights()]


def test_keras_to_keras_copies_everything():
    a, b = (resdsl.build(tiny(), backend="keras") for _ in range(2))
    resdsl.port_weights(a, b)
    assert all(np.array_equal(x, y) for x, y in zip(weights(a), weights(b)))


def test_other_network_names_the_first_misfit_and_writes_nothing():
    src = resdsl.build(tiny("wide", filters=16), backend="keras")
    dst = resdsl.build(tiny(), backend="keras")
    before = weights(dst)
    with pytest.raises(PortError, match=r"layer 'layer1\.0\.conv1' does not fit: kernel of shape \(3, 3, 8, 16\)") as e:
        resdsl.port_weights(src, dst)
    assert "'wide'" in str(e.value) and "'tiny'" in str(e.value) and "not the same network" in str(e.value)
    assert all(np.array_equal(x, y) for x, y in zip(before, weights(dst)))


def test_extra_layers_in_src_are_named():
    src = resdsl.build(tiny("deeper", repeat=2), backend="keras")
    dst = resdsl.build(tiny(), backend="keras")
    with pytest.raises(PortError, match=r"layer 'layer1\.1\.conv1' of src has no counterpart in dst"):
        resdsl.port_weights(src, dst)


def test_missing_layer_in_src_is_named():
    src = resdsl.build(tiny(), backend="keras")
    dst = resdsl.build(tiny("deeper", repeat=2), backend="keras")
    with pytest.raises(PortError, match=r"layer 'layer1\.1\.conv1' does not fit: src has no layer"):
        resdsl.port_weights(src, dst)


def test_not_a_model():
    with pytest.raises(PortError, match="expected a torch.nn.Module or a keras.Model"):
        resdsl.port_weights(object(), resdsl.build(tiny(), backend="keras"))


def test_torch_shape_mismatch_is_named():
    torch = pytest.importorskip("torch")
    src = resdsl.build(tiny("wide", filters=16), backend="torch")
    dst = resdsl.build(tiny(), backend="keras")
    assert isinstance(src, torch.nn.Module)
    with pytest.raises(PortError, match=r"layer 'layer1\.0\.conv1' does not fit"):
        resdsl.port_weights(src, dst)
    back = resdsl.build(tiny("wide", filters=16), backend="torch")
    with pytest.raises(PortError, match=r"layer 'layer1\.0\.conv1' does not fit"):
        resdsl.port_weights(dst, back)


def test_flatten_order_is_converted_both_ways():
    """A dense layer after flatten of a 8x8x8 map: torch's C,H,W rows become
    Keras' H,W,C rows, and back again unchanged."""
    torch = pytest.importorskip("torch")
    tm = resdsl.build(tiny(), backend="torch").eval()
    km = resdsl.build(tiny(), backend="keras")
    resdsl.port_weights(tm, km)
    x = np.random.default_rng(0).normal(size=(2, 3, 16, 16)).astype("float32")
    with torch.no_grad():
        want = tm(torch.from_numpy(x)).numpy()
    got = keras.ops.convert_to_numpy(km(x.transpose(0, 2, 3, 1), training=False))
    assert np.abs(want - got).max() <= 1e-4 * np.abs(want).max()
    k = km.get_layer("fc").get_weights()[0]
    w = tm.state_dict()["fc.weight"].numpy()
    assert not np.allclose(k, w.T)  # a plain transpose would be wrong here
    again = resdsl.build(tiny(), backend="torch")
    resdsl.port_weights(km, again)
    assert torch.equal(again.state_dict()["fc.weight"], tm.state_dict()["fc.weight"])


def test_keras_only_porting_does_not_import_torch():
    code = ("import sys, resdsl\n"
            f"a, b = (resdsl.build({tiny()!r}, backend='keras') for _ in range(2))\n"
            "resdsl.port_weights(a, b)\n"
            "sys.exit(1 if 'torch' in sys.modules else 0)\n")
    res = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
