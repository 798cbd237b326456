"""Language additions of format version 1's second round: integer expressions
of block parameters, parameters that may be 0, custom shortcuts that are built
where the shape changes and may read a main-path tensor, dotted layer and stage
names, specs given as dicts, and the odd-size hint of a shape mismatch."""
from __future__ import annotations

import pytest

import resdsl

BLOCK = """\
resdsl: 1
name: lang
input: {height: 32, width: 32, channels: 3}
blocks:
  b:
    params: {pad: 0, width: 16}
    main:
MAIN
    shortcut: SHORTCUT
stem: [{conv: {filters: 16, kernel: 3, padding: 1}}]
stages:
  - {block: b, filters: 16, repeat: 2}
  - {block: b, filters: 32, repeat: 2, stride: 2}
head: [global_avgpool]
"""


def spec(main: str, shortcut: str = "projection") -> str:
    return BLOCK.replace("MAIN", main).replace("SHORTCUT", shortcut)


PLAIN = """\
      - conv: {filters: FILTERS, kernel: 3, stride: $stride, padding: 1}
      - norm
      - zeropad: {padding: $pad}"""


def error(text: str) -> resdsl.SpecError:
    with pytest.raises(resdsl.SpecError) as exc:
        resdsl.resolve(text)
    return exc.value


# -- expressions -------------------------------------------------------------

def test_expressions_of_parameters_compute_and_stay_readable():
    r = resdsl.resolve(spec(PLAIN.replace("FILTERS", "($filters + $width) // 2 * 2 - $pad")))
    assert r.graph.nodes["layer2.0.conv1"]["attrs"]["filters"] == (32 + 16) // 2 * 2
    assert r.output_shape == (48,)
    src = resdsl.emit(r)  # the torch code keeps the expression, in the definition's parameter names
    assert "conv(in_channels, (filters + width) // 2 * 2 - pad, 3, stride=stride, padding=1)" in src


@pytest.mark.parametrize("expr,code,words", [
    ("$filters / 3", "bad-expression", "not a whole number"),
    ("$filters ** 2", "bad-expression", "unexpected '*'"),
    ("$filters * (2", "bad-expression", "missing ')'"),
    ("$filters *", "bad-expression", "ends too early"),
    ("$filtres * 2", "unknown-parameter", "'$filtres'"),
    ("$filters // ($pad)", "bad-expression", "division by zero"),
    ("$filters - $filters", "bad-value", "conv filters must be at least 1"),
])
def test_bad_expressions_are_located_errors(expr, code, words):
    err = error(spec(PLAIN.replace("FILTERS", expr)))
    assert err.code == code and words in str(err)
    assert err.first.span.line == 8  # the conv's line in the spec
    if code == "unknown-parameter":
        assert "did you mean '$filters'" in str(err) or "filters" in (err.first.hint or "")
    if "/" in expr and code == "bad-expression" and "whole" in words:
        assert "//" in err.first.hint and "int(...)" in err.first.hint


def test_expressions_do_not_reach_python():
    err = error(spec(PLAIN.replace("FILTERS", "$filters + __import__")))
    assert err.code in ("bad-expression", "bad-name", "bad-value")


# -- parameters that may be 0 -------------------------------------------------------------

def test_a_parameter_may_be_zero_where_the_layer_takes_zero():
    r = resdsl.resolve(spec(PLAIN.replace("FILTERS", "$filters")))  # pad: 0 in a zeropad
    assert r.graph.nodes["layer1.0.pad1"]["attrs"]["padding"] == (0, 0, 0, 0)
    err = error(spec(PLAIN.replace("FILTERS", "$pad")))
    assert err.code == "bad-value" and "conv filters must be at least 1, but '$pad' gives 0" in str(err)


# -- custom shortcuts --------------------------------------------------------------------

SHORTCUT_MAIN = """\
      - norm: {name: pre}
      - act: {name: pre_act}
      - conv: {filters: $filters, kernel: 3, stride: $stride, padding: 1}"""


def test_a_custom_shortcut_is_built_where_the_shape_changes():
    text = spec(SHORTCUT_MAIN, "[{conv: {filters: $filters, kernel: 1, stride: $stride}}]")
    r = resdsl.resolve(text)
    # layer1 keeps 16 channels at stride 1: identities; layer2.0 changes shape: the path
    assert [b.shortcut for b in r.blocks] == ["identity", "identity", "custom", "identity"]
    assert "layer2.0.shortcut.conv1" in r.graph and "layer2.1.shortcut.conv1" not in r.graph
    assert r.graph.nodes["layer2.1.add"]["attrs"]["shortcut"] == "identity"
    # one definition, the path optional in it, as torchvision's downsample=None
    (d,) = r.defs.values()
    assert d.optional and list(d.variants) == ["custom"] and "downsample" in d.params
    always = resdsl.resolve(spec(SHORTCUT_MAIN, "{when: always, layers: [{conv: {filters: $filters, kernel: 1, "
                                                "stride: $stride}}]}"))
    assert [b.shortcut for b in always.blocks] == ["custom"] * 4
    assert always.params == r.params + 2 * (16 * 16) + 32 * 32


def test_a_custom_shortcut_reads_the_named_tensor_and_takes_its_name():
    text = spec(SHORTCUT_MAIN, "{from: pre_act, name: downsample, layers: [{conv: {filters: $filters, kernel: 1, "
                               "stride: $stride, name: conv}}]}")
    r = resdsl.resolve(text)
    assert list(r.graph.predecessors("layer2.0.downsample.conv")) == ["layer2.0.pre_act"]
    torch = pytest.importorskip("torch")
    model = resdsl.build(r)
    assert "layer2.0.downsample.conv.weight" in model.state_dict()
    assert model.layer2[1].downsample is None
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        model.eval()
        block = model.layer2[0]
        pre = block.pre_act(block.pre(model.layer1(model.conv1(x))))
        want = block.conv1(pre) + block.downsample(pre)
        assert torch.allclose(block(model.layer1(model.conv1(x))), want, atol=1e-5)


def test_an_unknown_from_is_a_located_error():
    err = error(spec(SHORTCUT_MAIN, "{from: pre_actt, layers: [{conv: {filters: $filters, kernel: 1, "
                                    "stride: $stride}}]}"))
    assert err.code == "unknown-tensor" and "did you mean 'pre_act'" in str(err)


# -- dotted names --------------------------------------------------------------------------

DOTTED = """\
resdsl: 1
name: dotted
input: {height: 32, width: 32, channels: 3}
stem:
  - conv: {filters: 16, kernel: 3, padding: 1, name: stem.conv}
  - norm: {name: stem.bn}
stages:
  - {name: stages.0.blocks, block: basic, filters: 16, repeat: 1}
  - {name: stages.1.blocks, block: basic, filters: 32, repeat: 2, stride: 2}
head:
  - global_avgpool: {keepdims: true, name: head.pool}
  - conv: {filters: 10, kernel: 1, bias: true, name: head.fc}
  - flatten: {name: head.flatten}
"""


def test_dotted_names_nest_modules_as_timm_names_them():
    r = resdsl.resolve(DOTTED)
    assert [b.name for b in r.blocks] == ["stages.0.blocks.0", "stages.1.blocks.0", "stages.1.blocks.1"]
    assert "stages.1.blocks.0.downsample.0" in r.graph
    torch = pytest.importorskip("torch")
    model = resdsl.build(r).eval()
    keys = list(model.state_dict())
    assert keys[0] == "stem.conv.weight" and "head.fc.bias" in keys
    assert "stages.1.blocks.1.conv2.weight" in keys
    assert isinstance(model.stages, torch.nn.Sequential) and model.get_submodule("stages.1.blocks.0.conv1")
    with torch.no_grad():
        y = model(torch.randn(2, 3, 32, 32))
    assert y.shape == (2, 10)


def test_a_name_that_is_both_a_layer_and_a_group_is_an_error():
    err = error(DOTTED.replace("name: stem.bn}", "name: stem}"))
    assert err.code == "duplicate-name" and "'stem' names both a layer and a group of layers" in str(err)


def test_a_bad_dotted_name_says_what_a_name_may_be():
    err = error(DOTTED.replace("stem.conv", "stem..conv"))
    assert err.code == "bad-name" and "dotted path" in str(err)


# -- dict specs --------------------------------------------------------------------------

def test_a_spec_may_be_a_dict_with_located_errors():
    import yaml
    data = yaml.safe_load(DOTTED)
    assert resdsl.resolve(data).params == resdsl.resolve(DOTTED).params
    data["stages"][1]["repaet"] = data["stages"][1].pop("repeat")
    err = error(data)
    assert err.code == "unknown-key" and "did you mean 'repeat'" in str(err)
    d = err.first
    assert d.span.file == "<dict>" and "repaet: 2" in str(err)  # the line, under a caret
    data["stages"][1]["repeat"] = data["stages"][1].pop("repaet")
    data["input"]["channels"] = object()
    err = error(data)
    assert err.code == "bad-type" and "input.channels is a Python 'object'" in str(err)


# -- odd sizes -----------------------------------------------------------------------------

ODD = """\
resdsl: 1
name: odd
input: {height: 15, width: 15, channels: 3}
blocks:
  b:
    main:
      - conv: {filters: $filters, kernel: 3, stride: $stride}
      - norm
    shortcut: projection
stem: [{conv: {filters: 8, kernel: 3, padding: 1}}]
stages:
  - {block: b, filters: 8, stride: 2}
head: [global_avgpool]
"""


def test_a_mismatch_from_floor_rounding_says_so():
    err = error(ODD)  # 15 -> 7 on the unpadded 3x3/2 path, 8 on the 1x1/2 projection
    assert err.code == "shape-mismatch" and "an odd size was rounded differently" in str(err)
    assert "padding k // 2" in err.first.hint and "projection" not in err.first.hint
    assert resdsl.resolve(ODD.replace("stride: $stride}", "stride: $stride, padding: 1}")).output_shape == (8,)


# -- branches ------------------------------------------------------------------------------

BRANCHES = """\
      - conv: {filters: $filters, kernel: 3, stride: $stride, padding: 1, name: a}
      - conv: {filters: $filters, kernel: 1, name: b1}
      - conv: {from: a, filters: $filters, kernel: 3, padding: 1, name: b2}
      - add: {with: b1, name: join}
      - norm"""


def test_layers_branch_from_a_named_tensor_and_join():
    r = resdsl.resolve(spec(BRANCHES))
    g = r.graph
    assert list(g.predecessors("layer2.0.b2")) == ["layer2.0.a"]
    ins = sorted(g.in_edges("layer2.0.join", data="port"), key=lambda e: e[2])
    assert [u for u, _, _ in ins] == ["layer2.0.b2", "layer2.0.b1"]
    torch = pytest.importorskip("torch")
    model = resdsl.build(r).eval()
    block = model.layer2[0]
    x = torch.randn(2, 16, 32, 32)
    with torch.no_grad():
        a = block.a(x)
        want = block.bn1(block.b2(a) + block.b1(a)) + block.downsample(x)
        assert torch.allclose(block(x), want, atol=1e-5)
    keras = pytest.importorskip("keras")
    kmodel = resdsl.build(r, backend="keras")
    resdsl.port_weights(model, kmodel)
    image = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        expected = model(image).numpy()
    got = keras.ops.convert_to_numpy(kmodel(image.permute(0, 2, 3, 1).numpy(), training=False))
    assert abs(got - expected).max() <= 1e-4 * abs(expected).max()


def test_a_branch_from_an_unknown_layer_is_located():
    err = error(spec(BRANCHES.replace("from: a,", "from: aa,")))
    assert err.code == "unknown-tensor" and "no earlier layer named 'aa' here to read" in str(err)
    assert err.first.span.line == 10
