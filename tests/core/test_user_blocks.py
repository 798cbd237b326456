"""User blocks as a new user writes them (issue 24): parallel strided branches,
the block input by name, shortcuts named by index, in-block joins, reserved
names, ratio expressions and blocks derived from other blocks."""
from __future__ import annotations

import pytest

import resdsl
from tests.helpers.specs import DERIVED_BLOCKS

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


# -- a custom shortcut named by index -------------------------------------------

INDEXED = HEADER + """\
blocks:
  b:
    main:
      - conv: {filters: $filters, kernel: 3, stride: $stride, padding: 1}
      - norm
    shortcut:
      name: downsample
      layers:
        - conv: {filters: $filters, kernel: 1, stride: $stride, name: FIRST}
        - norm: {name: SECOND}
stem: [{conv: {filters: 16, kernel: 3, padding: 1}}]
stages:
  - {block: b, filters: 16}
  - {block: b, filters: 32, stride: 2}
head: [global_avgpool]
"""


@pytest.mark.parametrize("first,second", [("0", "1"), ("'0'", "'1'")])
def test_a_custom_shortcut_may_name_its_layers_by_index(first, second):
    r = resdsl.resolve(INDEXED.replace("FIRST", first).replace("SECOND", second))
    assert r.graph.nodes["layer2.0.downsample.0"]["op"] == "conv"
    assert r.graph.nodes["layer2.0.downsample.1"]["op"] == "norm"
    src = resdsl.emit(r)  # torchvision's layout: one Sequential, called as a module
    assert "self.downsample = nn.Sequential(conv(in_channels, filters, 1, stride=stride), norm(filters))" in src


@pytest.mark.parametrize("first,second,line,col,words", [
    ("0x", "1", 12, 71, "or a dotted path of identifiers and indices"),
    ("0", "bn", 13, 24, "the shortcut's layer 1 has no index name, but others have one"),
    ("1", "2", 12, 71, "the shortcut's layer 0 is named '1', but the next index is 0"),
])
def test_a_bad_index_name_is_one_error_where_it_is_written(first, second, line, col, words):
    err = error(INDEXED.replace("FIRST", first).replace("SECOND", second))
    assert len(err.diagnostics) == 1 and err.code == "bad-name", str(err)
    assert (err.first.span.line, err.first.span.column) == (line, col) and words in str(err)


def test_an_index_name_outside_a_shortcut_is_refused():
    text = INDEXED.replace("FIRST", "conv").replace("SECOND", "bn")
    err = error(text.replace("      - norm\n", "      - norm: {name: 0}\n"))
    assert err.code == "bad-name" and "only a custom shortcut's layers are named by index" in str(err)
    assert err.first.span.line == 8


# -- names the backends cannot build are refused by validate --------------------

NAMED = HEADER + """\
blocks:
  b:
    params: {k: 3}
    main:
      - conv: {filters: $filters, kernel: $k, padding: 1, name: BLOCK_LAYER}
    shortcut: identity
stem: [{conv: {filters: 16, kernel: 3, padding: 1, name: STEM_LAYER}}]
stages: [{block: b, filters: 16, name: STAGE}]
head: [global_avgpool]
"""


def named(block_layer="conv1", stem_layer="conv1", stage="layer1") -> str:
    return NAMED.replace("BLOCK_LAYER", block_layer).replace("STEM_LAYER", stem_layer).replace("STAGE", stage)


@pytest.mark.parametrize("where,name,line,words", [
    ("block_layer", "forward", 8, "'forward' cannot be a name: it would shadow an attribute of PyTorch's"),
    ("stem_layer", "head.train", 10, "'train' cannot be a name"),
    ("stage", "stages.0.eval", 11, "'eval' cannot be a name"),
    ("stem_layer", "_modules", 10, "it would shadow one of PyTorch's torch.nn.Module internals"),
    ("block_layer", "__init__", 8, "it would shadow one of PyTorch's torch.nn.Module internals"),
    ("block_layer", "FUSE", 8, "'FUSE' cannot be a name"),
])
def test_validate_refuses_names_a_backend_cannot_build(where, name, line, words):
    err = error(named(**{where: name}))
    assert err.code == "reserved-name" and err.first.span.line == line
    assert words in str(err), str(err)


@pytest.mark.parametrize("name", ["x", "class", "_private", "__import__", "self", "os"])
def test_names_the_emitters_map_safely_validate(name):
    """x, keywords and other underscored names build (issue 21 class 8: the shared code
    generator maps every name to a safe identifier), so validate takes them."""
    for where in ("block_layer", "stem_layer", "stage"):
        assert resdsl.resolve(named(**{where: name})).params > 0


def test_every_reserved_name_of_the_torch_backend_is_refused_by_validate():
    """One list: what the torch emitter refuses is what validate refuses."""
    from resdsl.backends.torch import ops
    from resdsl.vocab import NN_MODULE_NAMES
    assert ops.NN_MODULE_NAMES is NN_MODULE_NAMES and ops.reserved_why("forward")
    for name in sorted(NN_MODULE_NAMES)[::7]:
        assert error(named(stem_layer=name)).code == "reserved-name", name


def test_a_parameter_named_in_is_refused():
    err = error(named().replace("params: {k: 3}", "params: {k: 3, in: 1}"))
    assert err.code == "reserved-name" and "`$in` names the block's input" in str(err)
    assert err.first.span.line == 6


# -- ratios with rounding in expressions ----------------------------------------

RATIOS = HEADER + """\
blocks:
  b:
    params: {width: 4, groups: 8, pct: 25}
    main:
      - conv: {filters: FILTERS, kernel: 1}
    shortcut: none
stem: [{conv: {filters: 16, kernel: 3, padding: 1}}]
stages: [{block: b, filters: 100, args: {width: 6, groups: 4, pct: 30}}]
head: [global_avgpool]
"""


def width(expr: str) -> int:
    return resdsl.resolve(RATIOS.replace("FILTERS", f"'{expr}'")).graph.nodes["layer1.0.conv1"]["attrs"]["filters"]


@pytest.mark.parametrize("expr,want", [
    # the stage passes filters 100, width 6, groups 4, pct 30; each want is the Python it stands for
    ("int($filters * $width / 64) * $groups", int(100 * 6 / 64) * 4),
    ("$filters * $pct // 100", 100 * 30 // 100),
    ("int($filters * 0.25)", int(100 * 0.25)),
    ("int(-$filters / 3) + 50", int(-100 / 3) + 50),
    ("max($groups, $filters // 8)", max(4, 100 // 8)),
    ("min($filters, 2 * $width, 64)", min(100, 2 * 6, 64)),
    ("make_divisible($filters * $pct / 100)", 32),
    ("make_divisible($filters / 16, 8, 0, 0)", 8),
    ("make_divisible($filters * 0.3, 16, 48)", 48),
    ("int($filters / $width / 2.5) + ($groups - 1) * 2", int(100 / 6 / 2.5) + (4 - 1) * 2),
])
def test_expressions_compute_ratios_with_rounding_as_python_does(expr, want):
    assert width(expr) == want


def test_make_divisible_is_timms():
    timm_layers = pytest.importorskip("timm.layers")
    from resdsl.ir.rounding import make_divisible
    for v in (3.0, 7.5, 10.0, 12.0, 16.0, 25.6, 30.0, 100.0, 255.9, 1000.0):
        for divisor in (1, 4, 8, 16):
            for round_limit in (0.0, 0.9):
                assert make_divisible(v, divisor, round_limit=round_limit) == \
                    timm_layers.make_divisible(v, divisor, round_limit=round_limit), (v, divisor, round_limit)
            assert make_divisible(v, divisor, 24) == timm_layers.make_divisible(v, divisor, 24)


@pytest.mark.parametrize("expr,words", [
    ("$filters / 3", "gives 33.333333333333336, not a whole number"),
    ("int($filters) / 2", "gives 50.0, not a whole number"),
    ("round($filters / 3)", "unknown name 'round'"),
    ("make_divisible(, $filters)", "unexpected ','"),
    ("make_divisible($filters, 1, 2, 3, 4)", "make_divisible() takes 1 to 4 arguments, got 5"),
    ("int($filters, 2)", "int() takes 1 arguments, got 2"),
    ("$filters / ($pct - 30)", "division by zero"),
    ("__import__($filters)", "unknown name '__import__'"),
    ("$filters.real", "unexpected"),
])
def test_bad_ratio_expressions_are_located_errors(expr, words):
    err = error(RATIOS.replace("FILTERS", f"'{expr}'"))
    assert err.code in ("bad-expression", "bad-name") and words in str(err), str(err)
    assert err.first.span.line == 8


# -- a block derived from another: `extends`, `insert`, `replace`, `remove` ------

DERIVED = DERIVED_BLOCKS


def locals_of(r, block: str) -> list[tuple[str, str]]:
    return [(d["local"], d["op"]) for n, d in r.graph.nodes(data=True)  # the gate's inner ops left out
            if d.get("block") == block and d["role"] != "shortcut"
            and (d["local"].split(".")[0] != "se" or d["local"] == "se.mul")]


def test_a_derived_block_edits_its_parents_main_path():
    r = resdsl.resolve(DERIVED)
    g = r.graph
    assert locals_of(r, "layer2.0") == [("pre", "norm"), ("conv1", "conv"), ("bn1", "norm"), ("act1", "act"),
                                        ("conv2", "conv"), ("bn2", "norm"), ("se.mul", "multiply"), ("add", "add"),
                                        ("act_out", "act")]
    conv1 = g.nodes["layer2.0.conv1"]["attrs"]
    assert conv1["kernel"] == (5, 5) and conv1["padding"] == (2, 2, 2, 2)  # its own `k`, and the changed padding
    assert g.nodes["layer2.0.act1"]["attrs"]["fn"] == "silu"  # replaced, and still called act1
    assert locals_of(r, "layer3.0") == [("pre", "norm"), ("conv1", "conv"), ("bn1", "norm"), ("act1", "act"),
                                        ("conv2", "conv"), ("bn2", "norm"), ("act_out", "act")]  # no se, no add
    assert locals_of(r, "layer1.0")[0] == ("conv1", "conv") and g.nodes["layer1.0.conv1"]["attrs"]["kernel"] == (3, 3)
    merged = r.spec.data["blocks"]["plain"]  # what `validate --print-spec` shows
    assert "extends" not in merged and "remove" not in merged and len(merged["main"]) == 6


def test_every_layer_of_a_derived_block_keeps_where_it_was_written():
    spec = resdsl.resolve(DERIVED).spec
    assert spec.span(("blocks", "with_se", "main", 0)).line == 20     # inserted: the child's `insert`
    assert spec.span(("blocks", "with_se", "main", 1)).line == 8      # inherited: the parent's layer
    assert spec.span(("blocks", "with_se", "main", 1, "conv", "padding")).line == 24  # changed by the child
    assert spec.span(("blocks", "with_se", "main", 3)).line == 22     # replaced
    assert spec.span(("blocks", "with_se", "main", 6)).line == 18
    assert spec.span(("blocks", "plain", "main", 0)).line == 20       # through two derivations


@pytest.mark.parametrize("old,new,code,line,words", [
    ("layers: [{norm: {name: pre}}]", "layers: [{norm: {name: pre, eps: 2}}]", "out-of-range", 20, "eps"),
    ("kernel: $k, stride", "kernel: $kk, stride", "unknown-parameter", 8, "'$kk'"),
    ("extends: with_se", "extends: with_sf", "unknown-block", 26, "did you mean 'with_se'"),
    ("extends: base", "extends: bottleneck", "unknown-block", 15, "a built-in kind has no layers"),
    ("extends: base", "extends: plain", "block-cycle", 26, "with_se -> plain -> with_se"),
    ("extends: base", "extends: with_se", "block-cycle", 15, "with_se -> with_se"),
    ("before: 0", "before: 9", "unknown-item", 19, "no layer 9 in blocks.with_se.main, which has 5"),
    ("after: bn2", "after: bn3", "unknown-item", 18, "did you mean 'bn2'"),
    ("remove: [se]", "remove: [se, conv7]", "unknown-item", 27, "no layer named 'conv7'"),
    ("      act1: {act: silu}", "      act2: {act: silu}", "unknown-item", 22, "did you mean 'act1'"),
    ("      act1: {act: silu}", "      act1: {act: silu}\n    remove: [act1]", "bad-value", 23,
     "'act1' is both replaced and removed"),
    ("- {after: bn2, layers", "- {after: bn2, before: bn1, layers", "wrong-type", 18, "name one anchor"),
    ("    shortcut: none", "    shortcut: none\n    insrt: []", "unknown-key", 29, "did you mean 'insert'"),
])
def test_mistakes_in_a_derived_block_are_located(old, new, code, line, words):
    assert old in DERIVED
    err = error(DERIVED.replace(old, new, 1) if old != "extends: base" else DERIVED.replace(old, new))
    assert err.code == code and err.first.span.line == line and words in str(err), str(err)


def test_a_block_may_edit_its_own_main_and_be_edited_with_set():
    r = resdsl.resolve(DERIVED, sets=["blocks.base.remove=[act1]"])
    assert ("act1", "act") not in locals_of(r, "layer1.0")
    assert ("act1", "act") in locals_of(r, "layer2.0")  # with_se was derived before the override


# -- after the merge with v3 ----------------------------------------------------

def test_a_context_pooled_from_the_block_input_has_no_say_in_its_stride():
    """A strided map plus a C×1×1 context of the block input (a broadcast add): the
    block strides by 2, as its map does, and its projection with it."""
    r = resdsl.resolve(HEADER + """\
blocks:
  ctx:
    main:
      - conv: {filters: $filters, kernel: 3, stride: $stride, padding: 1, name: a}
      - global_avgpool: {keepdims: true, from: $in, name: pool}
      - conv: {filters: $filters, kernel: 1, name: g}
      - add: {with: a, name: join}
stem: [{conv: {filters: 8, kernel: 3, padding: 1}}]
stages: [{block: ctx, filters: 16, stride: 2}]
head: [global_avgpool]
""")
    g = r.graph
    assert g.nodes["layer1.0.join"]["shape"] == (16, 16, 16)
    assert g.nodes["layer1.0.downsample.0"]["attrs"]["stride"] == (2, 2)


def test_an_unknown_key_is_told_the_keys_as_they_are_written():
    err = error(PARALLEL.replace("from: FROM", "frm: $in"))
    assert err.code == "unknown-key" and "did you mean 'from'" in str(err), str(err)
    assert "from_" not in str(err)
