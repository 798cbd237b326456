"""Whatever validates also draws: every label and attribute stays inside
Graphviz's 16,384-byte limit on one string (long lists elided, long texts
folded or cut with an ellipsis), for 10,000 blocks in a stage, 10,000 convs in a
block, the longest names, descriptions of the widest characters and many outputs."""
from __future__ import annotations

import random
import shutil

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import resdsl
from resdsl import Limits
from resdsl.render import RenderError, to_dot_source
from resdsl.render.labels import MAX_ATTR_BYTES
from tests.hostile.hostile_gen import dump, valid_spec

GRAPHVIZ_LIMIT = 16_384
HAS_DOT = shutil.which("dot") is not None
HEADER = "resdsl: 1\nname: t\ninput: {height: 16, width: 16, channels: 3}\n"


def longest_string(dot: str) -> int:
    """Bytes of the longest quoted or HTML string in DOT source: what Graphviz's scanner holds at once."""
    longest, i, n = 0, 0, len(dot)
    while i < n:
        c = dot[i]
        if c == '"':
            j = i + 1
            while j < n and dot[j] != '"':
                j += 2 if dot[j] == "\\" else 1
            longest, i = max(longest, len(dot[i:j + 1].encode())), j + 1
        elif c == "<" and dot[i - 1:i] == "=":
            depth, j = 0, i
            while j < n:
                depth += {"<": 1, ">": -1}.get(dot[j], 0)
                if depth == 0:
                    break
                j += 1
            longest, i = max(longest, len(dot[i:j + 1].encode())), j + 1
        else:
            i += 1
    return longest


def draws(spec, limits: Limits | None = None, levels=("block", "stage"), fmt="svg") -> None:
    r = resdsl.resolve(resdsl.load_spec(spec, limits) if limits else spec)
    for level in levels:
        source = to_dot_source(r, level)
        assert longest_string(source) <= MAX_ATTR_BYTES + 100 < GRAPHVIZ_LIMIT, level
        if HAS_DOT:
            out = resdsl.render(r, "-", level=level, fmt=fmt)
            assert str(out) == "-"


@pytest.fixture(autouse=True)
def _quiet_stdout(capsys):
    yield
    capsys.readouterr()


def test_ten_thousand_blocks_in_a_stage():
    text = HEADER + ("stem: [{conv: {filters: 4, padding: 1}}]\nstages: [{block: basic, filters: 4, repeat: 10000}]\n"
                     "head: [global_avgpool, {dense: {units: 2}}]\n")
    draws(text)
    source = to_dot_source(resdsl.resolve(text), "block")
    assert "layer1.0, layer1.1, layer1.2, … 9,994 more …, layer1.9997, layer1.9998, layer1.9999" in source


def test_ten_thousand_convs_in_one_block():
    convs = "".join("      - {conv: {filters: $filters, kernel: 1}}\n" for _ in range(10_000))
    text = HEADER + f"blocks:\n  b:\n    main:\n{convs}    shortcut: identity\n" \
                    "stem: [{conv: {filters: 4}}]\nstages: [{block: b, filters: 4}]\n" \
                    "head: [global_avgpool, {dense: {units: 2}}]\n"
    draws(text)
    assert "1×1, 4 ×10,000" in to_dot_source(resdsl.resolve(text), "block")


WIDE = ['"', "&", "<", ">", "\\", "😀", "é", "\u2028", "'", "]", "}"]


@pytest.mark.parametrize("char", WIDE)
def test_the_longest_names_and_descriptions_of_the_widest_characters(char):
    long = "n" * 63
    desc = (char * 2000).replace("\\", "\\\\").replace('"', '\\"')
    blocks = "".join(f"  {long[:-2]}{i:02d}:\n    description: \"{desc}\"\n"
                     f"    main: [{{block: {{type: {long[:-2]}{i + 1:02d}, filters: $filters, name: {long}}}}}]\n"
                     f"    shortcut: none\n" for i in range(15))
    blocks += f"  {long[:-2]}15:\n    main: [{{conv: {{filters: $filters, padding: same, name: {long}}}}}]\n" \
              "    shortcut: projection\n"
    outputs = ", ".join(f"s{i}" for i in range(30))
    stages = "".join(f"  - {{name: s{i}, block: {long[:-2]}00, filters: 4}}\n" for i in range(30))
    text = (f"resdsl: 1\nname: {long}\ndescription: \"{desc}\"\ninput: {{height: 8, width: 8, channels: 3}}\n"
            f"blocks:\n{blocks}stem: [{{conv: {{filters: 4, name: {long}}}}}]\nstages:\n{stages}"
            f"outputs: [{outputs}]\n")
    draws(text, levels=("block", "stage", "layer") if char == '"' else ("block",))


def test_language_v3_ops_at_their_extremes():
    """A split into 1,024 parts (its label lists every size), a concat of all of
    them, a grouped paths softmax, a blur pool and an attention pool, drawn at
    every level (the layer view's 1,000-odd nodes too)."""
    n = 1024
    sizes = [900 + i % 76 for i in range(n)]
    text = HEADER.replace("channels: 3", f"channels: {sum(sizes)}") + (
        "blocks:\n  b:\n    main:\n"
        f"      - {{split: {{sizes: {sizes}, name: s}}}}\n"
        f"      - {{concat: {{inputs: [{', '.join(f's.{i}' for i in range(n))}], name: cat}}}}\n"
        "      - {softmax: {axis: paths, paths: 2, groups: 2}}\n"
        "      - {blur_pool: {size: 5, pad_mode: zeros, name: blur}}\n"
        "      - {conv: {filters: 1, kernel: 1}}\n"
        "      - {softmax: {axis: spatial}}\n"
        "      - {attention_pool: {with: blur}}\n"
        "    shortcut: none\n"
        "stages: [{block: b, filters: 4}]\nhead: [flatten, {dense: {units: 2}}]\n")
    draws(text, levels=("layer", "block", "stage"))
    source = to_dot_source(resdsl.resolve(text), "layer")
    assert "split part 1024/1024" in source and "sizes 900, 901, 902" in source and "attention pool" in source


def test_a_custom_shortcut_of_many_layers():
    layers = ", ".join("{conv: {filters: $filters, kernel: 1}}" for _ in range(400))
    text = HEADER + (f"blocks:\n  b:\n    main: [{{conv: {{filters: $filters, padding: same}}}}]\n"
                     f"    shortcut: {{layers: [{layers}], when: always}}\n"
                     "stem: [{conv: {filters: 4}}]\nstages: [{block: b, filters: 4}]\n"
                     "head: [global_avgpool, {dense: {units: 2}}]\n")
    draws(text, Limits(max_nodes=200_000))


def test_a_too_big_layer_view_is_the_documented_refusal():
    text = HEADER + ("stem: [{conv: {filters: 4, padding: 1}}]\nstages: [{block: basic, filters: 4, repeat: 10000}]\n"
                     "head: [global_avgpool, {dense: {units: 2}}]\n")
    with pytest.raises(RenderError, match="more than the limit of 2,000.*Graphviz would take very long"):
        to_dot_source(resdsl.resolve(text), "layer")


def _big(rnd: random.Random) -> dict:
    """A valid generated spec made big: long repeats, long names, a long wide description."""
    spec = valid_spec(rnd)
    for stage in spec["stages"]:
        stage["repeat"] = rnd.choice((1, 50, 2000, 10_000))
        stage["name"] = "s" + "x" * rnd.randint(0, 62) + str(rnd.randint(0, 9))
    spec["name"] = "n" * rnd.randint(1, 64)
    spec["description"] = "".join(rnd.choice(WIDE + ["a", " "]) for _ in range(rnd.randint(0, 2000)))
    return spec


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.randoms(use_true_random=False))
def test_big_random_specs_that_validate_also_draw(rnd):
    spec = _big(rnd)
    text = dump(spec)
    if len({s["name"] for s in spec["stages"]}) < len(spec["stages"]):
        return  # two stages drew the same name: not a valid spec
    draws(text)
