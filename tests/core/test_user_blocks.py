"""User blocks as a new user writes them (issue 24): parallel strided branches,
the block input by name, shortcuts named by index, in-block joins, reserved
names, ratio expressions and blocks derived from other blocks."""
from __future__ import annotations

import pytest

import resdsl

HEADER = """\
resdsl: 1
name: ub
input: {height: 32, width: 32, channels: 3}
"""


def error(text: str) -> resdsl.SpecError:
    with pytest.raises(resdsl.SpecError) as exc:
        resdsl.resolve(text)
    return exc.value


# -- the block's stride is its output's, not the product of its layers' ---------

TWIN = HEADER + """\
blocks:
  twin:
    main:
      - act: {fn: linear, name: block_in}
      - conv: {filters: 16, kernel: 3, stride: 2, padding: 1, name: a}
      - conv: {filters: 16, kernel: 3, stride: STRIDE_B, padding: 1, name: b, from: block_in}
      - add: {with: a}
stem: [{conv: {filters: 16, kernel: 3, padding: 1}}]
stages:
  - {block: twin, filters: 16, stride: 2}
head: [global_avgpool]
"""


def test_parallel_strided_branches_stride_the_block_once():
    """Two branches that each stride 2 and join make a block of stride 2: its
    projection shortcut strides 2 (it strode 4, and the add failed)."""
    r = resdsl.resolve(TWIN.replace("STRIDE_B", "2"))
    g = r.graph
    assert g.nodes["layer1.0.downsample.0"]["attrs"]["stride"] == (2, 2)
    assert g.nodes["layer1.0.add"]["shape"] == (16, 16, 16)
    assert r.output_shape == (16,)


def test_branches_that_stride_differently_are_an_error_at_their_join():
    err = error(TWIN.replace("STRIDE_B", "1"))
    assert err.code == "shape-mismatch"
    assert "'b' (total stride 1)" in str(err) and "'a' (total stride 2)" in str(err)
    assert err.first.span.line == 10  # the `add` that joins them


# -- `$in`: the block input by name ---------------------------------------------

PARALLEL = HEADER + """\
blocks:
  twin:
    main:
      - conv: {filters: $filters, kernel: 3, stride: $stride, padding: 1, name: a}
      - conv: {filters: $filters, kernel: 3, stride: $stride, padding: 1, name: b, from: FROM}
      - add: {with: a}
stem: [{conv: {filters: 16, kernel: 3, padding: 1}}]
stages:
  - {block: twin, filters: 16, repeat: 2}
  - {block: twin, filters: 32, stride: 2}
head: [global_avgpool]
"""


def test_from_in_reads_the_block_input():
    r = resdsl.resolve(PARALLEL.replace("FROM", "$in"))
    g = r.graph
    assert list(g.predecessors("layer1.1.b")) == ["layer1.0.add"]  # the previous block's output
    assert list(g.predecessors("layer2.0.b")) == ["layer1.1.add"]
    assert g.nodes["layer2.0.b"]["attrs"]["stride"] == (2, 2)
    assert g.nodes["layer2.0.downsample.0"]["in_shapes"] == [(16, 32, 32)]
    src = resdsl.emit(r)  # in the block's class, x
    assert "y1 = self.b(x)" in src and "self.b = conv(in_channels, filters, 3, stride=stride, padding=1)" in src


def test_in_joins_the_block_input_and_reads_the_stem_input():
    text = HEADER + """\
blocks:
  res:
    main:
      - conv: {filters: $filters, kernel: 3, padding: 1}
      - add: {with: $in, name: join}
    shortcut: none
stem:
  - conv: {filters: 8, kernel: 3, padding: 1, name: c1}
  - conv: {filters: 8, kernel: 1, name: c2, from: $in}
  - add: {with: c1}
stages: [{block: res, filters: 8}]
head: [global_avgpool]
"""
    g = resdsl.resolve(text).graph
    assert list(g.predecessors("c2")) == ["input"]
    ins = sorted(g.in_edges("layer1.0.join", data="port"), key=lambda e: e[2])
    assert [u for u, _, _ in ins] == ["layer1.0.conv1", "add1"]


def test_a_tensor_name_that_is_neither_in_nor_a_layer_is_one_located_error():
    err = error(PARALLEL.replace("FROM", "$input"))
    assert len(err.diagnostics) == 1 and err.code == "bad-name"
    assert "`$in` (the input of the block, stem or head) or the name of an earlier layer" in str(err)
    assert err.first.span.line == 8
    err = error(PARALLEL.replace("FROM", "inpt"))
    assert err.code == "unknown-tensor" and "`$in` for the block's input" in str(err)


# -- an in-block add that does not fit names its two tensors --------------------

JOIN = HEADER + """\
blocks:
  b:
    main:
      - conv: {filters: $filters, kernel: 3, stride: $stride, padding: 1, name: a}
      - conv: {filters: B1, kernel: 1, name: b1}
      - conv: {from: a, filters: $filters, kernel: 3, padding: 1, name: b2}
      - add: {with: b1, name: join}
stem: [{conv: {filters: 16, kernel: 3, padding: 1}}]
stages:
  - {block: b, filters: 16}
head: [global_avgpool]
"""


def test_an_in_block_add_says_which_two_tensors_differ():
    err = error(JOIN.replace("B1", "8"))
    assert err.code == "shape-mismatch" and err.first.span.line == 10
    assert "'layer1.0.join': add: 'b2' gives 16×32×32 but 'b1' gives 8×32×32" in str(err)
    assert "projection" not in str(err) and "the same filters and stride on both branches" in err.first.hint


def test_the_blocks_own_shortcut_add_still_suggests_a_projection():
    err = error(JOIN.replace("B1", "$filters").replace("filters: 16}", "filters: 32}")
                .replace("add: {with: b1, name: join}", "add: {with: b1, name: join}\n    shortcut: identity"))
    assert err.code == "shape-mismatch" and "shortcut carries 16 channels but the main path gives 32" in str(err)
    assert "`shortcut: projection`" in err.first.hint
