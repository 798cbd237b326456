"""Widths written as ratios with rounding (`int($filters * $width / 64) * $groups`,
`make_divisible(...)`) are computed by the emitted PyTorch and Keras code itself,
from the block's parameters, and come out as resdsl computed them (issue 24)."""
from __future__ import annotations

import pytest

import resdsl

SPEC = """\
resdsl: 1
name: ratios
input: {height: 16, width: 16, channels: 3}
blocks:
  bneck:
    params: {width: 4, groups: 8, pct: 25}
    main:
      - conv: {filters: int($filters * $width / 64) * $groups, kernel: 1, name: reduce}
      - norm
      - act
      - conv:
          filters: make_divisible($filters * $pct / 100, 8)
          kernel: 1
          name: attn
      - act
      - conv: {filters: $filters * 2, kernel: 1, name: expand}
stem: [{conv: {filters: 16, kernel: 3, padding: 1}}]
stages:
  - {block: bneck, filters: 64, args: {width: 4, groups: 8}}
  - {block: bneck, filters: 100, stride: 2, args: {width: 6, groups: 4, pct: 30}}
head: [global_avgpool, {dense: {units: 3}}]
"""
WIDTHS = {"layer1.0.reduce": int(64 * 4 / 64) * 8, "layer1.0.attn": 16,  # make_divisible(16.0, 8)
          "layer2.0.reduce": int(100 * 6 / 64) * 4, "layer2.0.attn": 32}  # make_divisible(30.0, 8)


def test_resdsl_computes_the_widths():
    g = resdsl.resolve(SPEC).graph
    assert {n: g.nodes[n]["attrs"]["filters"] for n in WIDTHS} == WIDTHS


def test_the_emitted_torch_code_computes_them(tmp_path, import_file):
    pytest.importorskip("torch")
    r = resdsl.resolve(SPEC)
    src = resdsl.emit(r)
    assert "conv(in_channels, int(filters * width / 64) * groups, 1)" in src
    assert "make_divisible(filters * pct / 100, 8)" in src and "def make_divisible(" in src
    assert '"filters": 100, "width": 6, "groups": 4, "pct": 30' in src  # the stage's values, not widths
    path = tmp_path / "ratios_torch.py"
    path.write_text(src, encoding="utf-8")
    model = import_file(path, "ratios_torch").build_model()
    assert sum(p.numel() for p in model.parameters()) == r.params
    assert {n: model.get_submodule(n).weight.shape[0] for n in WIDTHS} == WIDTHS


def test_the_emitted_keras_code_computes_them(tmp_path, import_file):
    pytest.importorskip("keras")
    import numpy as np
    r = resdsl.resolve(SPEC)
    src = resdsl.emit(r, backend="keras")
    assert "int(filters * width / 64) * groups" in src and "make_divisible(filters * pct / 100, 8)" in src
    path = tmp_path / "ratios_keras.py"
    path.write_text(src, encoding="utf-8")
    model = import_file(path, "ratios_keras").build_model()
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == r.params
    from resdsl.backends.keras import layer_map
    layers = layer_map(model)
    assert {n: layers[n].filters for n in WIDTHS} == WIDTHS


# -- with v3's ops, in a stage of several block kinds, next to a ceil-mode pool --

RUNS = """\
resdsl: 1
name: ratio_runs
input: {height: 15, width: 15, channels: 3}
blocks:
  paths:
    params: {radix: 2, width: 64}
    main:
      - conv: {filters: make_divisible($filters * $width / 64) * $radix, kernel: 3, padding: 1, name: c}
      - split: {sizes: [int($filters * $width / 64), int($filters * $width / 64) * ($radix - 1)], name: s}
      - conv: {from: s.1, filters: int($filters * $width / 64), kernel: 1, name: p1}
      - concat: {inputs: [s.0, p1], name: cat}
      - softmax: {axis: paths, paths: $radix, name: sm}
      - maxpool: {size: $stride, stride: $stride, ceil_mode: true, name: pool}
      - conv: {filters: $filters, kernel: 1, name: out}
  plain:
    params: {pct: 25}
    main:
      - conv: {filters: "max(8, make_divisible($filters * $pct / 100))", kernel: 1, name: r}
      - conv: {filters: $filters, kernel: 3, stride: $stride, padding: 1, name: e}
stem: [{conv: {filters: 16, kernel: 3, padding: 1}}]
stages:
  - filters: 32
    stride: 2
    blocks:
      - {block: paths, args: {width: 48}}
      - {block: plain, repeat: 2, args: {pct: 10}}
      - {block: paths, args: {radix: 4, width: 96}}
head: [global_avgpool, {dense: {units: 3}}]
"""
# make_divisible(32 * 48 / 64) * 2; int(24.0); max(8, make_divisible(3.2)); 48 * 4; int(48.0)
RUN_WIDTHS = {"layer1.0.c": 48, "layer1.0.p1": 24, "layer1.1.r": 8, "layer1.3.c": 192, "layer1.3.p1": 48}


def test_widths_in_runs_of_block_kinds_with_v3_ops():
    r = resdsl.resolve(RUNS)
    g = r.graph
    assert [b.kind for b in r.blocks] == ["paths", "plain", "plain", "paths"]
    assert {n: g.nodes[n]["attrs"]["filters"] for n in RUN_WIDTHS} == RUN_WIDTHS
    assert g.nodes["layer1.0.cat"]["shape"][0] == 48 and g.nodes["layer1.3.cat"]["shape"][0] == 96
    assert g.nodes["layer1.3.sm"]["attrs"]["paths"] == 4 and g.nodes["layer1.3.s.1"]["attrs"]["sizes"] == (48, 144)
    assert g.nodes["layer1.0.pool"]["shape"] == (48, 8, 8)  # ceil: 15 -> 8 (floor would give 7)
    assert r.output_shape == (3,)


def test_the_emitted_torch_code_computes_them_in_runs(tmp_path, import_file):
    torch = pytest.importorskip("torch")
    r = resdsl.resolve(RUNS)
    model = resdsl.build(r).eval()
    assert sum(p.numel() for p in model.parameters()) == r.params
    src = resdsl.emit(r)
    assert "make_divisible(filters * width / 64) * radix" in src and "ceil_mode=True" in src
    path = tmp_path / "ratio_runs_torch.py"
    path.write_text(src, encoding="utf-8")
    emitted = import_file(path, "ratio_runs_torch").build_model().eval()
    assert {n: emitted.get_submodule(n).weight.shape[0] for n in RUN_WIDTHS} == RUN_WIDTHS
    emitted.load_state_dict(model.state_dict(), strict=True)
    x = torch.randn(2, 3, 15, 15)
    with torch.no_grad():
        torch.testing.assert_close(emitted(x), model(x))


def test_keras_computes_them_in_runs_next_to_a_ceil_pool(tmp_path, import_file):
    """The Keras side (v3's split/softmax are not wired there yet): expressions and a
    ceil-mode pool in a run of two kinds, built and emitted, equal to torch."""
    torch = pytest.importorskip("torch")
    keras = pytest.importorskip("keras")
    import numpy as np
    lines = RUNS.splitlines(keepends=True)
    first = next(i for i, line in enumerate(lines) if "- split:" in line)
    text = "".join(lines[:first] + ["      - conv: {filters: int($filters * $width / 64), kernel: 1, name: p1}\n"]
                   + lines[first + 4:])  # the split, its part's conv, the concat and the softmax
    assert "split" not in text and "softmax" not in text
    r = resdsl.resolve(text)
    assert r.graph.nodes["layer1.3.p1"]["attrs"]["filters"] == 48
    model = resdsl.build(r).eval()
    x = torch.randn(2, 3, 15, 15)
    with torch.no_grad():
        want = model(x).numpy()
    path = tmp_path / "ratio_runs_keras.py"
    path.write_text(resdsl.emit(r, backend="keras"), encoding="utf-8")
    for kmodel in (resdsl.build(r, backend="keras"), import_file(path, "ratio_runs_keras").build_model()):
        assert sum(int(np.prod(w.shape)) for w in kmodel.trainable_weights) == r.params
        resdsl.port_weights(model, kmodel)
        got = keras.ops.convert_to_numpy(kmodel(x.permute(0, 2, 3, 1).numpy(), training=False))
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
