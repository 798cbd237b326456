"""Issue 22's language primitives, framework-free: split and concat, softmax along
a named axis, conv dilation and weight standardisation, broadcasting add and
multiply, layer norm, blur pooling, attention pooling, `from: input`, and stages
of several block kinds. Shapes, counts and channel expressions from the IR; every
misuse a located error; every new op refuses an input of the wrong rank with a
ShapeError, never another exception."""
from __future__ import annotations

import pytest

import resdsl
from resdsl.ir.attrs import BlurPoolAttrs, NoAttrs, SoftmaxAttrs, SplitAttrs
from resdsl.ir.ops import OPS, ShapeError

HEAD = """\
resdsl: 1
name: v3
input: {height: 16, width: 16, channels: 3}
"""
STEM = "stem: [{conv: {filters: 12, kernel: 3, padding: 1, name: c0}}]\n"


def resolve(body: str, stem: str = STEM):
    return resdsl.resolve(HEAD + stem + body)


def error(body: str, stem: str = STEM) -> resdsl.SpecError:
    with pytest.raises(resdsl.SpecError) as exc:
        resolve(body, stem)
    return exc.value


def located(exc: resdsl.SpecError, code: str, words: str, line: int | None = None) -> None:
    d = exc.diagnostics[0]
    assert d.code == code and words in d.message, (d.code, d.message)
    assert d.span.line >= 1 and d.span.column >= 1
    if line is not None:
        assert d.span.line == line, d.span


# -- split, concat -----------------------------------------------------------

def test_split_into_equal_or_given_parts_and_concat_in_order():
    r = resolve("head:\n"
                "  - split: {parts: 3, name: s}\n"
                "  - split: {from: c0, sizes: [2, 6, 4], name: t}\n"
                "  - concat: {inputs: [t.2, s.1, t.0, s.0, s.2, t.1], name: cat}\n")
    g = r.graph
    assert [g.nodes[f"s.{i}"]["shape"] for i in range(3)] == [(4, 16, 16)] * 3
    assert [g.nodes[f"t.{i}"]["shape"][0] for i in range(3)] == [2, 6, 4]
    assert g.nodes["cat"]["shape"] == (4 + 4 + 2 + 4 + 4 + 6, 16, 16)
    inputs = [u for u, _, _ in sorted(g.in_edges("cat", data="port"), key=lambda e: e[2])]
    assert inputs == ["t.2", "s.1", "t.0", "s.0", "s.2", "t.1"]
    assert r.params == 12 * 3 * 9 and r.macs == 12 * 27 * 256  # split and concat cost nothing


@pytest.mark.parametrize("layer, code, words", [
    ("split: {parts: 5}", "bad-split", "divisible by 5, but the input has 12"),
    ("split: {sizes: [4, 4]}", "bad-split", "add up to 8, but the input has 12"),
    ("split: {parts: 2, sizes: [6, 6]}", "bad-value", "`parts` or `sizes`"),
    ("split: {}", "bad-value", "`parts` or `sizes`"),
    ("split: {parts: 1}", "bad-value", "at least 2"),
    ("concat: {inputs: [c0, nowhere]}", "unknown-tensor", "'nowhere'"),
])
def test_split_and_concat_misuse_is_located(layer, code, words):
    located(error(f"head:\n  - {layer}\n"), code, words, line=6)


def test_concat_of_different_sizes_is_a_shape_mismatch():
    exc = error("head:\n  - maxpool: {size: 2, name: p}\n  - concat: {inputs: [c0, p]}\n")
    located(exc, "shape-mismatch", "12×16×16 and 12×8×8", line=7)


# -- softmax -----------------------------------------------------------------

@pytest.mark.parametrize("layer, shape", [
    ("softmax", (12, 16, 16)), ("softmax: {axis: spatial}", (12, 16, 16)),
    ("softmax: {axis: paths, paths: 2, groups: 3}", (12, 16, 16))])
def test_softmax_keeps_the_shape(layer, shape):
    r = resolve(f"head:\n  - {layer}\n")
    assert r.output_shape == shape and r.params == 12 * 27


@pytest.mark.parametrize("layer, code, words", [
    ("softmax: {axis: paths, paths: 5}", "bad-split", "divisible by 5, but the input has 12"),
    ("softmax: {axis: paths}", "bad-value", "exactly when its axis is paths"),
    ("softmax: {paths: 2}", "bad-value", "exactly when its axis is paths"),
    ("softmax: {axis: time}", "bad-value", "'time'"),
])
def test_softmax_misuse_is_located(layer, code, words):
    located(error(f"head:\n  - {layer}\n"), code, words, line=6)


def test_softmax_over_positions_needs_a_feature_map():
    located(error("head:\n  - global_avgpool\n  - softmax: {axis: spatial}\n"), "shape-error", "feature map", line=7)
    assert resolve("head:\n  - global_avgpool\n  - softmax\n").output_shape == (12,)  # channels: a vector too


# -- conv: dilation, weight standardisation ------------------------------------

def test_dilation_widens_the_window_not_the_weights():
    r = resolve("head:\n  - conv: {filters: 4, kernel: 3, dilation: 2, padding: 2, name: d}\n"
                "  - conv: {filters: 4, kernel: 3, dilation: [2, 3], padding: same, name: s}\n")
    d, s = r.graph.nodes["d"], r.graph.nodes["s"]
    assert d["shape"] == (4, 16, 16) and d["params"] == 12 * 4 * 9 and d["macs"] == 4 * 256 * 12 * 9
    assert s["attrs"]["padding"] == (2, 2, 3, 3) and s["shape"] == (4, 16, 16)  # 'same' of a 5×7 window
    assert "dilation" not in r.graph.nodes["c0"]["attrs"].described()  # quiet at its default


def test_a_dilated_kernel_that_does_not_fit_is_located():
    located(error("head:\n  - conv: {filters: 4, kernel: 3, dilation: 9}\n"), "spatial-too-small",
            "kernel 3×3 at dilation 9 (a 19×19 window)")


def test_weight_standardisation_from_the_defaults_or_the_layer():
    body = ("defaults: {conv: {standardize: true, standardize_eps: 1.0e-8}}\n"
            "head:\n  - conv: {filters: 4, kernel: 1, name: a}\n  - conv: {filters: 4, kernel: 1, standardize: false,"
            " name: b}\n")
    g = resolve(body).graph
    assert g.nodes["c0"]["attrs"]["standardize"] and g.nodes["c0"]["attrs"]["standardize_eps"] == 1e-8
    assert g.nodes["a"]["attrs"]["standardize"] and not g.nodes["b"]["attrs"]["standardize"]
    g = resolve("defaults: {conv: {standardize: true}}\nstages: [{block: basic, filters: 12}]\n").graph
    assert g.nodes["layer1.0.conv2"]["attrs"]["standardize"]  # built-in blocks' convs too
    assert g.nodes["layer1.0.conv2"]["attrs"]["standardize_eps"] == 1e-6  # timm's StdConv2d default


# -- add and multiply broadcast ------------------------------------------------

def test_add_and_multiply_broadcast_a_context_or_a_map():
    r = resolve("head:\n"
                "  - global_avgpool: {keepdims: true, name: ctx}\n"
                "  - add: {with: c0, name: plus}\n"
                "  - conv: {from: c0, filters: 1, kernel: 1, name: m}\n"
                "  - multiply: {with: plus, name: times}\n"
                "  - add: {from: ctx, with: times, name: again}\n")
    g = r.graph
    assert g.nodes["plus"]["shape"] == g.nodes["times"]["shape"] == g.nodes["again"]["shape"] == (12, 16, 16)


def test_shapes_that_do_not_broadcast_are_located():
    exc = error("head:\n  - conv: {filters: 5, kernel: 1}\n  - add: {with: c0}\n")
    located(exc, "shape-mismatch", "5×16×16 and 12×16×16", line=7)
    exc = error("head:\n  - maxpool: {size: 2}\n  - multiply: {with: c0}\n")
    located(exc, "shape-mismatch", "gives 12×8×8", line=7)


def test_a_residual_addition_still_refuses_to_broadcast():
    """A block's shortcut addition keeps its strict check: a broadcast there would hide a mistake."""
    exc = error("blocks:\n  b:\n    main: [{global_avgpool: {keepdims: true}}]\n    shortcut: identity\n"
                "stages: [{block: b, filters: 12}]\n")
    assert exc.diagnostics[0].code == "shape-mismatch"


# -- layer norm, blur pool, attention pool ------------------------------------

def test_layer_norm_has_weights_and_no_statistics():
    r = resolve("head:\n  - norm: {type: layernorm, eps: 1.0e-6, name: ln}\n")
    assert r.node("ln")["params"] == 24 and r.node("ln")["buffers"] == 0 and r.node("ln")["attrs"]["eps"] == 1e-6


def test_blur_pool_pads_as_timm_and_counts_its_depthwise_filter():
    r = resolve("head:\n  - blur_pool: {name: b}\n  - blur_pool: {size: 5, stride: 1, pad_mode: zeros, name: z}\n")
    b, z = r.node("b"), r.node("z")
    assert b["attrs"]["padding"] == (1, 1, 1, 1) and b["shape"] == (12, 8, 8)  # ((2 - 1) + (3 - 1)) // 2
    assert z["attrs"]["padding"] == (2, 2, 2, 2) and z["shape"] == (12, 8, 8)
    assert b["params"] == b["buffers"] == 0 and b["macs"] == 12 * 8 * 8 * 9 and z["macs"] == 12 * 64 * 25


def test_blur_pool_misuse_is_located():
    located(error("head:\n  - blur_pool: {padding: 16}\n"), "spatial-too-small", "reflection must be smaller")
    located(error("head:\n  - blur_pool: {size: 1}\n"), "bad-value", "at least 2")


def test_blur_pool_strides_a_user_block_so_its_shortcut_projects():
    r = resolve("blocks:\n  b:\n    main: [{conv: {filters: 12, kernel: 1}}, {blur_pool: {stride: $stride}}]\n"
                "stages: [{block: b, filters: 12, stride: 2}]\n")
    assert r.node("layer1.0.downsample.0")["attrs"]["stride"] == (2, 2) and r.output_shape == (12, 8, 8)


def test_attention_pool_is_a_weighted_sum_per_channel():
    r = resolve("head:\n  - conv: {filters: 1, kernel: 1, name: w}\n  - softmax: {axis: spatial}\n"
                "  - attention_pool: {with: c0, name: ctx}\n")
    assert r.node("ctx")["shape"] == (12, 1, 1) and r.node("ctx")["macs"] == 12 * 256 and r.node("ctx")["params"] == 0
    exc = error("head:\n  - conv: {filters: 5, kernel: 1}\n  - attention_pool: {with: c0}\n")
    located(exc, "shape-mismatch", "weights 5×16×16 cannot pool a 12×16×16", line=7)


# -- user blocks: `from: input`, strides through branches ----------------------

BRANCHES = """\
blocks:
  two_paths:
    main:
      - conv: {filters: $filters, kernel: 3, stride: $stride, padding: 1, name: a}
      - conv: {from: input, filters: $filters, kernel: 3, stride: $stride, padding: 2, dilation: 2, name: b}
      - add: {with: a, name: sum}
stages:
  - {block: two_paths, filters: 12, repeat: 2}
  - {block: two_paths, filters: 24, stride: 2}
"""


def test_from_input_reads_the_block_input_and_branches_stride_once():
    r = resolve(BRANCHES)
    g = r.graph
    assert list(g.predecessors("layer1.1.b")) == ["layer1.0.add"]  # the block input: the previous block's output
    # two parallel strided convs: the block strides by 2, not 4, so its projection does too
    assert g.nodes["layer2.0.downsample.0"]["attrs"]["stride"] == (2, 2)
    assert r.output_shape == (24, 8, 8)
    assert "layer1.0.downsample.0" not in g  # same shape: no projection


# -- stages of several block kinds ----------------------------------------------

RUNS = """\
blocks:
  first:
    main: [{conv: {filters: $filters, kernel: 3, stride: $stride, padding: 1, name: only}}, norm]
stages:
  - name: layer1
    filters: 8
    stride: 2
    blocks: [{block: first}, {block: basic, repeat: 2}, {block: first, repeat: 1}]
"""


def test_a_stage_runs_blocks_of_several_kinds_in_order():
    r = resolve(RUNS)
    assert [b.kind for b in r.blocks] == ["first", "basic", "basic", "first"]
    assert [b.name for b in r.blocks] == [f"layer1.{j}" for j in range(4)]
    assert r.node("layer1.0.only")["attrs"]["stride"] == (2, 2) and r.node("layer1.3.only")["attrs"]["stride"] == (1, 1)
    (st,) = r.stages
    assert st.repeat == 4 and st.kinds == (("first", 1), ("basic", 2), ("first", 1))
    assert st.kinds_text == "first ×1 + basic ×2 + first ×1"
    assert r.output_shape == (8, 8, 8)


def test_runs_of_one_definition_replay_only_their_own_kind():
    """Two built-in kinds called alike: the second run must not copy the first's ops."""
    r = resolve("stages:\n  - {filters: 12, blocks: [{block: basic}, {block: preact_basic}]}\n")
    assert r.node("layer1.1.preact_bn")["op"] == "norm" and "layer1.1.bn2" not in r.graph


@pytest.mark.parametrize("stage, code, words, key", [
    ("{filters: 8}", "missing-key", "needs `block`", False),
    ("{block: basic, filters: 8, blocks: [{block: basic}]}", "bad-value", "not both", False),
    ("{filters: 8, repeat: 2, blocks: [{block: basic}]}", "ignored-key", "'repeat' has no effect", True),
    ("{filters: 8, blocks: [{block: basic, args: {k: 1}}]}", "ignored-key", "'args' has no effect", True),
    ("{filters: 8, blocks: [{block: basic}, {block: basik}]}", "unknown-block", "unknown block 'basik'", False),
    ("{filters: 8, blocks: []}", "bad-value", "at least 1", False),
])
def test_stage_runs_misuse_is_located(stage, code, words, key):
    exc = error(f"stages:\n  - {stage}\n")
    located(exc, code, words, line=6)
    if "basik" in stage:
        assert exc.diagnostics[0].hint == "did you mean 'basic'?"


def test_a_derived_spec_addresses_a_stage_of_runs_by_name(tmp_path):
    (tmp_path / "base.yaml").write_text(HEAD + STEM + RUNS, encoding="utf-8")
    child = tmp_path / "child.yaml"
    child.write_text("resdsl: 1\nextends: ./base.yaml\nname: child\n"
                     "stages: {layer1: {filters: 16, blocks: [{block: basic}, {block: first}]}}\n", encoding="utf-8")
    r = resdsl.resolve(str(child))
    assert [b.kind for b in r.blocks] == ["basic", "first"] and r.output_shape == (16, 8, 8)


# -- every new op refuses an input of the wrong rank -----------------------------

NEW_OPS = {
    "split": SplitAttrs(index=0, parts=2),
    "concat": NoAttrs(),
    "softmax": SoftmaxAttrs(axis="spatial"),
    "blur_pool": BlurPoolAttrs(),
    "attention_pool": NoAttrs(),
}


@pytest.mark.parametrize("op", sorted(NEW_OPS))
@pytest.mark.parametrize("shape", [(12,), (12, 8, 8)])
def test_new_ops_take_a_vector_or_a_map_or_say_why(op, shape):
    d = OPS[op]
    ins = [shape] * (2 if d.arity in (2, -1) else 1)
    try:
        out = d.shape(NEW_OPS[op], ins)
    except ShapeError as exc:
        assert str(exc)
        return
    assert isinstance(out, tuple) and all(isinstance(v, int) and v >= 1 for v in out)
    assert d.params(NEW_OPS[op], ins) >= 0 and d.macs(NEW_OPS[op], ins, out) >= 0
