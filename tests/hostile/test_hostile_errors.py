"""Machine-readable errors on every command, and every independent problem of a
spec reported at once."""
from __future__ import annotations

import json

import pytest

import resdsl
from resdsl.cli import main

KEYS = {"file", "line", "column", "end_line", "end_column", "code", "message", "hint"}

MANY = """\
resdsl: 1
name: many
input: {height: 32, width: 32, channels: 3}
stem:
  - conv: {filters: 8, kernal: 3}
stages:
  - {block: basic, filters: 8, fitlers: 3}
  - {block: basik, filters: 16, stride: 2}
  - {block: basic, filters: 16, repeat: 0, color: red}
  - {name: layer1, block: basic, filters: 16}
head: [global_avgpool, {dense: {activation: softmax}}]
"""
# (code, line, column) of each independent mistake above
EXPECTED = [("unknown-key", 5, 24), ("unknown-key", 7, 32), ("unknown-block", 8, 13),
            ("out-of-range", 9, 41), ("unknown-key", 9, 44), ("duplicate-name", 10, 12),
            ("missing-key", 11, 32)]


def test_all_independent_errors_are_reported_at_once():
    with pytest.raises(resdsl.SpecError) as info:
        resdsl.load_spec(MANY)
    found = [(d.code, d.span.line, d.span.column) for d in info.value.diagnostics]
    assert found == EXPECTED
    hints = {d.code: d.hint for d in info.value.diagnostics}
    assert hints["unknown-block"] == "did you mean 'basic'?"


def test_three_unknown_keys_in_three_stages():
    text = MANY.split("stages:")[0].replace(", kernal: 3", "") + (
        "stages:\n  - {block: basic, filters: 8, a: 1}\n  - {block: basic, filters: 8, b: 1}\n"
        "  - {block: basic, filters: 8, c: 1}\n")
    with pytest.raises(resdsl.SpecError) as info:
        resdsl.load_spec(text)
    assert [(d.code, d.span.line) for d in info.value.diagnostics] == [("unknown-key", n) for n in (7, 8, 9)]


def test_version_error_does_not_hide_the_others():
    with pytest.raises(resdsl.SpecError) as info:
        resdsl.load_spec(MANY.replace("resdsl: 1", "resdsl: 7"))
    codes = [d.code for d in info.value.diagnostics]
    assert codes[0] == "unsupported-version" and len(codes) == len(EXPECTED) + 1
    assert "literal_error" not in str(info.value)


def test_wrong_types_in_whole_spec_checks_do_not_crash():
    text = MANY.replace("name: layer1", "name: [1, 2]").replace("block: basik", "block: {a: 1}")
    with pytest.raises(resdsl.SpecError) as info:
        resdsl.load_spec(text + "blocks: [1, 2]\n")
    assert {"wrong-type", "unknown-key"} <= {d.code for d in info.value.diagnostics}


def _json_errors(capsys, argv) -> list[dict]:
    assert main(argv) == 1
    err = capsys.readouterr().err
    data = json.loads(err)
    assert isinstance(data, list) and data
    for d in data:
        assert set(d) == KEYS
    return data


@pytest.fixture
def bad_spec(tmp_path):
    path = tmp_path / "many.yaml"
    path.write_text(MANY)
    return str(path)


COMMANDS = [["validate"], ["summary"], ["compile", "--backend", "torch", "-o", "-"],
            ["compile", "--backend", "keras", "-o", "-"], ["render", "-o", "-"]]


@pytest.mark.parametrize("cmd", COMMANDS, ids=lambda c: " ".join(c[:2]))
@pytest.mark.parametrize("where", ["before", "after"])
def test_json_errors_on_every_command(capsys, bad_spec, cmd, where):
    argv = (["--error-format", "json"] + cmd + [bad_spec]) if where == "before" else \
        (cmd + ["--error-format", "json", bad_spec])
    data = _json_errors(capsys, argv)
    assert [(d["code"], d["line"], d["column"]) for d in data] == EXPECTED
    assert all(d["file"] == bad_spec and d["end_line"] >= d["line"] for d in data)
    assert data[0]["hint"] == "did you mean 'kernel'?"


def test_json_for_yaml_syntax_and_limits(capsys, tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("resdsl: 1\nname: [\n")
    (d,) = _json_errors(capsys, ["--error-format", "json", "validate", str(path)])
    assert d["code"] == "yaml-syntax" and d["line"] == 3
    (d,) = _json_errors(capsys, ["--error-format", "json", "--limit", "max_depth=2", "validate", "resnet18"])
    assert d["code"] == "too-deep"


def test_json_lists_errors_of_several_specs(capsys, bad_spec, tmp_path):
    other = tmp_path / "other.yaml"
    other.write_text("resdsl: 1\n")
    data = _json_errors(capsys, ["validate", "--error-format", "json", bad_spec, str(other), "resnet18"])
    assert {d["file"] for d in data} == {bad_spec, str(other)}


def test_json_for_output_and_usage_errors(capsys, tmp_path):
    foreign = tmp_path / "notes.py"
    foreign.write_text("print('mine')\n")
    (d,) = _json_errors(capsys, ["--error-format", "json", "compile", "cifar_resnet20", "-o", str(foreign)])
    assert d["code"] == "output-error" and "refusing to overwrite" in d["message"] and d["hint"]
    (d,) = _json_errors(capsys, ["validate", "--error-format", "json", "--limit", "max_bogus=1", "resnet18"])
    assert d["code"] == "usage-error"
    assert foreign.read_text() == "print('mine')\n"


def test_text_format_is_the_default(capsys, bad_spec):
    assert main(["validate", bad_spec]) == 1
    err = capsys.readouterr().err
    assert f"{bad_spec}:5:24: error: unknown key 'kernal'" in err
    assert "Traceback" not in err


def test_messages_never_carry_terminal_escapes():
    with pytest.raises(resdsl.SpecError) as info:
        resdsl.load_spec('resdsl: 1\n"\\e]0;pwned\\a\\e[2J": 1\n')
    shown = str(info.value)
    assert "\x1b" not in shown and "\x07" not in shown
    assert "unknown key '\\x1b]0;pwned\\x07\\x1b[2J'" in shown


def test_a_huge_line_is_shown_as_a_window_around_the_caret():
    text = "a: [" + "1," * 100_000 + "!!python/name:x y]\n"
    with pytest.raises(resdsl.SpecError) as info:
        resdsl.load_spec(text, resdsl.Limits(max_nodes=200_000))
    source_line, caret_line = str(info.value).splitlines()[1:3]
    assert len(source_line) < 200
    assert source_line[caret_line.index("^"):].startswith("!!python")


def test_the_caret_uses_yaml_line_breaks():
    # \x85 (NEL) breaks a YAML line; U+2028 inside a quoted string is a break too
    with pytest.raises(resdsl.SpecError) as info:
        resdsl.load_spec("resdsl: 1\nname: t\x85bogus: 1\n")
    d = info.value.diagnostics[-1]
    assert (d.code, d.span.line) == ("unknown-key", 3)
    assert "   3 | bogus: 1" in str(info.value)
