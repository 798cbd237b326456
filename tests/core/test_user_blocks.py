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
