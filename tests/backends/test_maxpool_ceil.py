"""`maxpool: {ceil_mode: true}` (issue 24): the shape rule is PyTorch's, and the
built and emitted models of both frameworks compute the same function."""
from __future__ import annotations

import pytest

import resdsl

SPEC = """\
resdsl: 1
name: ceil_pool
input: {height: H, width: W, channels: 3}
stem:
  - conv: {filters: 4, kernel: 3, padding: 1, bias: true}
  - maxpool: {size: K, stride: S, padding: P, ceil_mode: true}
head: [flatten, {dense: {units: 5}}]
"""
# (height, width, kernel, stride, padding): partial last windows, a window that would
# start in the padding past the input (dropped, as PyTorch does), asymmetric padding
# and padding over half the window (MaxPool2d cannot take either).
CASES = [(11, 11, 2, 2, 0), (11, 9, 3, 2, 1), (10, 10, 3, 2, "[0, 1, 0, 1]"), (5, 5, 2, 2, "[0, 2, 0, 2]"),
         (9, 8, 3, 3, "[1, 2, 2, 1]"), (7, 7, 4, 3, 2)]


def spec(h, w, k, s, p) -> str:
    return SPEC.replace("H", str(h)).replace("W", str(w)).replace("K", str(k)).replace("S", str(s)) \
        .replace("P", str(p))


@pytest.mark.parametrize("h,w,k,s,p", CASES)
def test_the_shape_rule_is_pytorchs(h, w, k, s, p):
    torch = pytest.importorskip("torch")
    r = resdsl.resolve(spec(h, w, k, s, p))
    got = r.graph.nodes["maxpool1"]["shape"]
    if isinstance(p, int) and 2 * p <= k:  # PyTorch's own pool says
        want = torch.nn.functional.max_pool2d(torch.zeros(1, 4, h, w), k, s, p, ceil_mode=True).shape[1:]
        assert got == tuple(want)
    floor = resdsl.resolve(spec(h, w, k, s, p).replace(", ceil_mode: true", "")).graph.nodes["maxpool1"]["shape"]
    assert got[1] >= floor[1] and got[2] >= floor[2]


@pytest.mark.parametrize("h,w,k,s,p", CASES)
def test_keras_computes_what_torch_does(h, w, k, s, p, tmp_path, import_file):
    torch = pytest.importorskip("torch")
    keras = pytest.importorskip("keras")
    import numpy as np
    r = resdsl.resolve(spec(h, w, k, s, p))
    model = resdsl.build(r).eval()
    assert "ceil_mode=True" in resdsl.emit(r)
    kmodel = resdsl.build(r, backend="keras")
    resdsl.port_weights(model, kmodel)
    path = tmp_path / f"ceil_{h}_{w}_{k}_{s}_keras.py"
    path.write_text(resdsl.emit(r, backend="keras"), encoding="utf-8")
    emitted = import_file(path, path.stem).build_model()
    resdsl.port_weights(model, emitted)
    x = torch.randn(2, 3, h, w)
    with torch.no_grad():
        want = model(x).numpy()
        assert model.maxpool1(model.conv1(x)).shape[1:] == r.graph.nodes["maxpool1"]["shape"]
    assert want.shape == (2, *r.output_shape) and np.isfinite(want).all()
    for km in (kmodel, emitted):
        got = keras.ops.convert_to_numpy(km(x.permute(0, 2, 3, 1).numpy(), training=False))
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_ceil_mode_in_a_user_block_with_sizes_that_differ_per_block():
    """One definition, instances at 11x11 and 6x6: the torch module pads as far as
    each input needs, at forward time."""
    torch = pytest.importorskip("torch")
    text = """\
resdsl: 1
name: ceil_block
input: {height: 22, width: 22, channels: 3}
blocks:
  down:
    main:
      - conv: {filters: $filters, kernel: 3, padding: 1}
      - maxpool: {size: 3, stride: 2, padding: [0, 1, 0, 1], ceil_mode: true}
    shortcut: none
stem: [{conv: {filters: 4, kernel: 3, stride: 2, padding: 1}}]
stages: [{block: down, filters: 4, repeat: 2}]
head: [global_avgpool]
"""
    r = resdsl.resolve(text)
    assert [r.graph.nodes[f"layer1.{i}.maxpool1"]["shape"] for i in (0, 1)] == [(4, 6, 6), (4, 3, 3)]
    model = resdsl.build(r).eval()
    with torch.no_grad():
        y = model.layer1[0](torch.randn(1, 4, 11, 11))
    assert y.shape == (1, 4, 6, 6)
    assert torch.jit.script(model)(torch.randn(1, 3, 22, 22)).shape == (1, 4)
