"""Depth never reaches Python's recursion limit: long chains of layers in one user
block, thousands of user blocks each used by the one before, and deep Python
data all validate, compile and render, or stop at a documented limit with a
located error (docs/limits.md), from the CLI (text and JSON) and the API."""
from __future__ import annotations

import json

import pytest

import resdsl
from resdsl import Limits, SpecError
from resdsl.cli import main
from resdsl.spec.limits import MAX_BLOCK_NESTING_CEILING

HEADER = "resdsl: 1\nname: deep\ninput: {height: 8, width: 8, channels: 3}\n"
TAIL = "stem: [{conv: {filters: 4}}]\nstages: [{block: b0, filters: 4}]\nhead: [global_avgpool, {dense: {units: 2}}]\n"


def nested_chain(n: int) -> str:
    """b0 uses b1, which uses b2, ... b{n}: user blocks nested n + 1 deep."""
    blocks = "".join(f"  b{i}:\n    main: [{{block: {{type: b{i + 1}, filters: $filters}}}}]\n    shortcut: none\n"
                     for i in range(n))
    return HEADER + "blocks:\n" + blocks + f"  b{n}:\n    main: [act]\n    shortcut: none\n" + TAIL


def layer_chain(n: int) -> str:
    """One user block whose main path is n convs, each reading the one before by name."""
    main_ = "".join(f"      - {{conv: {{filters: $filters, kernel: 1, name: c{i}"
                    + (f", from: c{i - 1}" if i else "") + "}}\n" for i in range(n))
    return HEADER + f"blocks:\n  b0:\n    main:\n{main_}    shortcut: identity\n" + TAIL


COMMANDS = [["validate"], ["validate", "--error-format", "json"], ["summary"], ["compile", "-o", "-"],
            ["compile", "--backend", "keras", "-o", "-"], ["render", "--format", "dot", "-o", "-"],
            ["render", "--level", "layer", "--format", "dot", "-o", "-"]]


def run(capsys, args) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "RecursionError" not in err
    return code, out, err


@pytest.mark.parametrize("n", [2_000, 10_000])
@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_thousands_of_nested_blocks_stop_at_a_located_limit(tmp_path, capsys, n, command):
    path = tmp_path / "deep.yaml"
    path.write_text(nested_chain(n))
    code, _, err = run(capsys, command[:1] + [str(path)] + command[1:])
    assert code == 1
    if "json" in command:
        (d,) = json.loads(err)
        assert d["code"] in ("too-deep", "too-large") and d["line"] > 1 and d["column"] >= 1
    elif n == 2_000:  # under the document limits: the nesting limit, at the 17th level
        assert "error: user blocks nest more than 16 levels [too-deep]" in err
        assert f"{path}:51:12:" in err and "{block: {type: b16" in err
    else:  # 10,000 blocks are 820 kB and 130,000 YAML values: the document limit comes first
        assert "[too-large]" in err and f"{path}:" in err


def test_ten_thousand_nested_blocks_with_the_document_limits_raised():
    text = nested_chain(10_000)
    limits = Limits(max_nodes=1_000_000, max_bytes=2_000_000)
    with pytest.raises(SpecError) as info:
        resdsl.resolve(resdsl.load_spec(text, limits))
    assert info.value.code == "too-deep" and info.value.first.span.line == 51


def test_a_cycle_through_thousands_of_blocks_is_found_without_recursion():
    text = nested_chain(3_000).replace("main: [act]", "main: [{block: {type: b0, filters: $filters}}]")
    with pytest.raises(SpecError) as info:
        resdsl.load_spec(text, Limits(max_nodes=1_000_000))
    (d,) = [d for d in info.value.diagnostics if d.code == "block-cycle"]
    assert d.message == "user blocks form a cycle: b0 -> b1 -> b2 -> ... (2,995 more) -> b2998 -> b2999 -> b3000 -> b0"
    assert (d.span.line, d.span.column) == (4 + 3 * 3_000 + 2, 27)  # b3000's use of b0


def test_nesting_up_to_the_ceiling_builds_everywhere(capsys, tmp_path):
    """The ceiling of max_block_nesting is safe: the deepest nesting it allows goes
    through every command under Python's default recursion limit."""
    path = tmp_path / "deep.yaml"
    path.write_text(nested_chain(MAX_BLOCK_NESTING_CEILING - 1))
    for command in COMMANDS:
        code, out, _ = run(capsys, ["--limit", f"max_block_nesting={MAX_BLOCK_NESTING_CEILING}", command[0],
                                    str(path)] + command[1:])
        assert code == 0 and out, command
    compile(resdsl.emit(resdsl.load_spec(str(path), Limits(max_block_nesting=100)), "keras"), "k", "exec")


def test_max_block_nesting_has_a_ceiling(capsys, tmp_path):
    with pytest.raises(ValueError, match=f"max_block_nesting is at most {MAX_BLOCK_NESTING_CEILING}"):
        Limits(max_block_nesting=MAX_BLOCK_NESTING_CEILING + 1)
    with pytest.raises(ValueError, match="positive whole number"):
        Limits(max_repeat=0)
    with pytest.raises(ValueError, match="positive whole number"):
        Limits(max_depth=True)
    path = tmp_path / "deep.yaml"
    path.write_text(nested_chain(10))
    code, _, err = run(capsys, ["validate", "--limit", "max_block_nesting=5000", str(path)])
    assert code == 1 and "max_block_nesting is at most 100" in err


@pytest.mark.parametrize("n", [1_000, 10_000])
def test_long_layer_chains_in_one_block_validate_render_and_summarise(capsys, tmp_path, n):
    path = tmp_path / "chain.yaml"
    path.write_text(layer_chain(n))
    limit = ["--limit", "max_nodes=200000"]  # 10,000 layers with a name and a `from` each: 110,000 values
    r = resdsl.resolve(resdsl.load_spec(str(path), Limits(max_nodes=200_000)))
    assert r.params == 3 * 3 * 3 * 4 + n * (4 * 4) + 4 * 2 + 2 and len(r.graph) == n + 5  # stem 3x3, 1x1 chain, fc
    for command in (["validate"], ["validate", "--format", "json", "--error-format", "json"], ["summary"],
                    ["render", "--format", "dot", "-o", "-"]):
        code, out, _ = run(capsys, limit + command[:1] + [str(path)] + command[1:])
        assert code == 0 and out
    code, _, err = run(capsys, limit + ["render", str(path), "--level", "layer", "--format", "dot", "-o", "-"])
    if n > 2_000:  # the documented --max-nodes refusal, with its hint
        assert code == 1 and "more than the limit of 2,000" in err and "--max-nodes" in err
    else:
        assert code == 0


@pytest.mark.parametrize("backend", ["torch", "keras"])
def test_a_2000_layer_chain_compiles_in_both_backends(backend):
    source = resdsl.emit(layer_chain(2_000), backend)
    compile(source, "chain", "exec")
    assert source.count("c1999") >= 1


def test_deep_and_self_containing_python_data_is_a_located_error():
    deep: dict = {}
    cur = deep
    for _ in range(5_000):
        cur["x"] = {}
        cur = cur["x"]
    loop: list = [1]
    loop.append(loop)
    shared: list = [0]
    for _ in range(40):
        shared = [shared, shared]  # 2**40 paths through 41 lists
    for data, code in ((deep, "too-deep"), (loop, "too-deep"), (shared, "too-large")):
        with pytest.raises(SpecError) as info:
            resdsl.load_spec({"resdsl": 1, "name": "t", "x": data}, Limits(max_depth=64))
        assert info.value.code == code and info.value.first.span.file == "<dict>"
