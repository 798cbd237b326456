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
