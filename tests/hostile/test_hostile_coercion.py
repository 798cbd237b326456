"""No silent coercion: every numeric field of the spec refuses a bool, a string
(a quoted number), null (where it is not optional), NaN and infinities, with a
located `wrong-type` or `bad-value` error, in a file, through `--set` and
through keyword overrides.

The fields are found by walking the pydantic models from `Spec` down (layers,
blocks, stages, defaults, attention...), so a numeric field added later is
audited without a change here."""
from __future__ import annotations

import copy
import types
import typing
from typing import Annotated, Literal, Union, get_args, get_origin

import pytest
import yaml
from pydantic import BaseModel

import resdsl
from resdsl import SpecError
from resdsl.spec.models import Spec
from resdsl.spec.yamlload import load_yaml

TINY = {"resdsl": 1, "name": "t", "input": {"height": 16, "width": 16, "channels": 3},
        "stem": [{"conv": {"filters": 4}}], "stages": [{"block": "basic", "filters": 4}],
        "head": ["global_avgpool", {"dense": {"units": 2}}]}


class Leaf(typing.NamedTuple):
    path: tuple
    owner: str  # model.field, for ids
    kind: type  # int or float
    nullable: bool

    @property
    def good(self):
        return 0.5 if self.kind is float else 1


def _numeric(tp) -> type | None:
    if tp is bool:
        return None
    if tp in (int, float):
        return tp
    if get_origin(tp) is Literal and any(isinstance(a, int) and not isinstance(a, bool) for a in get_args(tp)):
        return int
    return None


# A derived block's edits (`insert`, `replace`) are layers merged into its base's
# main path before validation (spec/blockderive.py) and checked there, as the base's
# own layers are: the walk reaches each layer model through a plain block's `main`.
DERIVED_EDITS = {"insert", "replace"}


def _walk(tp, path: tuple, owner: str, nullable: bool, seen: set):
    """Yield a Leaf for each place a number goes under annotation `tp`."""
    origin = get_origin(tp)
    if origin is Annotated:
        yield from _walk(get_args(tp)[0], path, owner, nullable, seen)
        return
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        here_nullable = nullable or type(None) in args  # null is allowed at this path, not below it
        found = {}
        for a in args:
            if a is type(None):
                continue
            for leaf in _walk(a, path, owner, False, seen):
                if leaf.path == path:
                    leaf = leaf._replace(nullable=here_nullable)
                # an int-or-float union is a float field; a number or a list is both
                if leaf.path not in found or leaf.kind is float:
                    found[leaf.path] = leaf
        yield from found.values()
        return
    if origin is list:
        yield from _walk(get_args(tp)[0], path + (0,), owner, False, seen)
        return
    if origin is dict:
        yield from _walk(get_args(tp)[1], path + ("k",), owner, False, seen)
        return
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        for name, field in tp.model_fields.items():
            key = (tp, name)
            if key in seen or (field.alias or name) in DERIVED_EDITS:
                continue
            seen.add(key)
            ann = field.annotation
            if field.metadata:
                ann = Annotated[(ann, *field.metadata)]
            yield from _walk(ann, path + (field.alias or name,), f"{tp.__name__}.{name}", False, seen)
        return
    kind = _numeric(tp)
    if kind is not None:
        yield Leaf(path, owner, kind, nullable)


LEAVES = list(_walk(Spec, (), "Spec", False, set()))


def test_the_walk_finds_the_numeric_fields():
    owners = {leaf.owner for leaf in LEAVES}
    # a few that must be there (the walk would miss them if it stopped at a union or a list)
    assert {"Spec.resdsl", "Spec.drop_path_rate", "InputSpec.height", "NormDefaults.eps", "NormDefaults.momentum",
            "ConvLayer.filters", "ConvLayer.kernel", "ConvLayer.padding", "NormLayer.momentum", "Stage.repeat",
            "Stage.args", "UserBlock.params", "DropoutLayer.rate", "SEParams.round_limit", "ECAParams.gamma",
            "BlockLayer.stride", "DenseLayer.units", "ZeroPadLayer.padding",
            # language v3's
            "ConvLayer.dilation", "ConvLayer.standardize_eps", "ConvDefaults.standardize_eps", "BlurPoolLayer.size",
            "BlurPoolLayer.stride", "BlurPoolLayer.padding", "SplitLayer.parts", "SplitLayer.sizes",
            "SoftmaxLayer.paths", "SoftmaxLayer.groups", "StageRun.repeat", "StageRun.args"} <= owners, sorted(owners)
    assert len(LEAVES) >= 40
    kinds = {leaf.owner: leaf.kind for leaf in LEAVES}
    assert kinds["NormDefaults.eps"] is float and kinds["ConvLayer.filters"] is int
    assert kinds["ConvLayer.standardize_eps"] is float and kinds["ConvLayer.dilation"] is int


def _container(path: tuple, value):
    """A fresh structure holding `value` at `path` (list indices and dict keys)."""
    for part in reversed(path):  # lists of two ([h, w] sizes), as separate copies (no YAML aliases)
        value = [value, copy.deepcopy(value)] if isinstance(part, int) else {part: value}
    return value


def placed(leaf: Leaf, text_of_value: str) -> tuple[str, tuple]:
    """YAML text of TINY with the value at the leaf's path (written as given), and the value's path."""
    data = dict(TINY)
    top = leaf.path[0]
    data[top] = _container(leaf.path[1:], "__VALUE__") if len(leaf.path) > 1 else "__VALUE__"
    text = yaml.safe_dump(data, sort_keys=False, default_flow_style=False)
    # Only the first of a list's two copies gets the value under test; the other stays good.
    text = text.replace("__VALUE__", text_of_value, 1).replace("__VALUE__", repr(leaf.good))
    return text, leaf.path


BAD = {"true": "wrong-type", "false": "wrong-type", "'1'": "wrong-type", '"1e-5"': "wrong-type",
       "'0.5'": "wrong-type", "null": "wrong-type", ".nan": None, ".inf": None, "-.inf": None}
INT_ONLY_BAD = {"1.5": "wrong-type", "2.0": "wrong-type"}


def _diagnostics_at(text: str, path: tuple) -> list:
    _, smap = load_yaml(text, "<t>")
    span = smap.span(path)
    try:
        resdsl.load_spec(text)
    except SpecError as exc:
        return [d for d in exc.diagnostics if (d.span.line, d.span.column) == (span.line, span.column)]
    return []


@pytest.mark.parametrize("leaf", LEAVES, ids=lambda leaf: leaf.owner + "@" + ".".join(map(str, leaf.path)))
def test_every_numeric_field_refuses_what_is_not_a_number(leaf):
    text, path = placed(leaf, repr(leaf.good))
    assert _diagnostics_at(text, path) == [], "the good value is refused: the test places it wrongly"
    bad = dict(BAD, **(INT_ONLY_BAD if leaf.kind is int else {}))
    if leaf.nullable:
        del bad["null"]
    for written, wanted in bad.items():
        text, path = placed(leaf, written)
        found = _diagnostics_at(text, path)
        codes = {d.code for d in found}
        if leaf.owner == "Spec.resdsl":  # the version has its own message
            assert codes == {"unsupported-version"}, (written, found)
            continue
        assert codes & {"wrong-type", "bad-value"}, f"{leaf.owner} accepts {written}: {found}"
        if wanted:
            assert wanted in codes, (written, found)


def test_yaml_floats_written_plainly_are_numbers_and_quoted_ones_are_text():
    data, _ = load_yaml("a: [1e-5, 1.0e5, .5, '1e-5', \"2.5\", 1_000, 10]")
    assert data["a"] == [1e-5, 1e5, 0.5, "1e-5", "2.5", 1000, 10]
    assert [type(v) for v in data["a"]] == [float, float, float, str, str, int, int]


SHIPPED = "cifar_resnet20"


@pytest.mark.parametrize("path, good", [
    ("defaults.norm.eps", "1e-3"), ("defaults.norm.momentum", "0.01"), ("drop_path_rate", "0.1"),
    ("input.channels", "1"), ("stages.0.repeat", "2"), ("stages.1.stride", "1"), ("stem.conv1.kernel", "5"),
    ("head.fc.units", "5"), ("input.height", "40"),
])
def test_set_values_are_typed_as_yaml_and_refused_alike(path, good):
    resdsl.load_spec(SHIPPED, sets=[f"{path}={good}"])
    for written in ("true", "'3'", '"1e-5"', "null", ".nan", ".inf", "[1]", "{a: 1}"):
        with pytest.raises(SpecError) as info:
            resdsl.load_spec(SHIPPED, sets=[f"{path}={written}"])
        d = info.value.first
        assert d.code in ("wrong-type", "bad-value", "out-of-range"), (path, written, d)
        assert d.span.file == "<--set>" and d.span.column == len(path) + 2, (path, written, d)


@pytest.mark.parametrize("keywords", [
    {"num_classes": True}, {"num_classes": "5"}, {"num_classes": 5.0}, {"in_channels": True},
    {"in_channels": float("nan")}, {"input_size": (True, 32)}, {"input_size": ("32", 32)},
    {"input_size": (32.0, 32)}, {"input_size": True},
])
def test_keyword_overrides_refuse_what_is_not_a_whole_number(keywords):
    with pytest.raises(SpecError) as info:
        resdsl.resolve(SHIPPED, **keywords)
    assert info.value.code in ("wrong-type", "bad-override") and info.value.first.span.file == "<keywords>"


@pytest.mark.parametrize("text, code", [("momentum: true", "wrong-type"), ('eps: "1e-5"', "wrong-type"),
                                        ("eps: .nan", "bad-value"), ("momentum: -.inf", "bad-value")])
def test_the_issue_examples_in_a_file(text, code):
    spec = (f"resdsl: 1\nname: t\ninput: {{height: 16, width: 16, channels: 3}}\ndefaults:\n  norm: {{{text}}}\n"
            "stem: [{conv: {filters: 4}}, norm]\nhead: [global_avgpool, {dense: {units: 2}}]\n")
    with pytest.raises(SpecError) as info:
        resdsl.load_spec(spec)
    d = info.value.first
    assert d.code == code and (d.span.line, d.span.column) == (5, 10 + text.index(":") + 2)


@pytest.mark.parametrize("written", ["true", '"1e-6"', "'2'", ".nan", ".inf", "0"])
@pytest.mark.parametrize("layer", ["norm: {type: layernorm, eps: VALUE}",
                                   "conv: {filters: 4, standardize: true, standardize_eps: VALUE}",
                                   "conv: {filters: 4, dilation: VALUE, padding: 2}",
                                   "blur_pool: {size: VALUE}"])
def test_v3_fields_in_use_refuse_what_is_not_a_number(layer, written):
    """The walk above places each value alone; here each in the layer that uses it
    (a layer norm's eps, a standardised conv's eps, a dilation, a blur filter):
    a bool or a string is the wrong type, NaN, infinity and 0 out of bounds (or,
    for a whole number, the wrong type too)."""
    spec = ("resdsl: 1\nname: t\ninput: {height: 16, width: 16, channels: 4}\n"
            f"stem: [{{{layer.replace('VALUE', written)}}}]\nhead: [global_avgpool, {{dense: {{units: 2}}}}]\n")
    with pytest.raises(SpecError) as info:
        resdsl.load_spec(spec)
    d = info.value.first
    wanted = {"wrong-type"} if written in ("true", '"1e-6"', "'2'") else {"wrong-type", "bad-value", "out-of-range"}
    assert d.code in wanted, (written, d)
    assert (d.span.line, d.span.column) == (4, 9 + layer.index("VALUE")), (written, d)
