"""A string given as a spec is decided by what exists on disk: a file that
exists is read, whatever its name holds (':' included); a missing one-line
name ending .yaml/.yml/.json is "no such file", never YAML text; YAML text is
what holds a newline (or a one-line mapping that names no file)."""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import resdsl
from resdsl import SpecError
from resdsl.cli import main

SPEC = (Path(__file__).parents[2] / "specs" / "cifar_resnet20.yaml").read_text()
MISSING = ["no:such.yaml", "no:such.yml", "C:\\nets\\r50.json", "a: b.yaml", "{resdsl: 1}.yaml", "x.YAML",
           "dir/with: colon/net.yml"]


@pytest.mark.parametrize("name", MISSING)
@pytest.mark.parametrize("command", [["validate"], ["summary"], ["compile", "-o", "-"],
                                     ["render", "--format", "dot", "-o", "-"],
                                     ["validate", "--error-format", "json"]], ids=" ".join)
def test_a_missing_file_is_no_such_file_in_every_command(tmp_path, monkeypatch, capsys, name, command):
    monkeypatch.chdir(tmp_path)
    assert main(command[:1] + [name] + command[1:]) == 1
    err = capsys.readouterr().err
    assert "no such file" in err and "mapping" not in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("call", [resdsl.load_spec, resdsl.resolve, resdsl.summary,
                                  lambda s: resdsl.emit(s, "torch"), lambda s: resdsl.render(s, "-", fmt="dot")],
                         ids=["load_spec", "resolve", "summary", "emit", "render"])
def test_the_api_says_no_such_file_too(call):
    with pytest.raises(SpecError) as info:
        call("no:such.yaml")
    assert info.value.code == "no-such-spec" and info.value.first.message == "no such file 'no:such.yaml'"


def test_build_says_no_such_file_before_any_framework():
    pytest.importorskip("torch")
    with pytest.raises(SpecError, match="no such file 'no:such.yaml'"):
        resdsl.build("no:such.yaml", "torch")


@pytest.mark.parametrize("name", ["a:b.yaml", "a:b", "resdsl: 1", "net.json", "x: y\tz.yml"])
def test_an_existing_file_is_read_whatever_its_name(tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    (tmp_path / name).write_text(SPEC)
    assert resdsl.resolve(name).name == "cifar_resnet20"
    assert main(["validate", name]) == 0


def test_a_one_line_name_that_is_no_mapping_is_a_missing_file(capsys):
    assert main(["validate", "no:such"]) == 1
    err = capsys.readouterr().err
    assert "no such file 'no:such'" in err and "[no-such-spec]" in err


def test_yaml_text_is_still_text():
    assert resdsl.resolve(SPEC).name == "cifar_resnet20"  # holds newlines
    one_line = ("{resdsl: 1, name: t, input: {height: 8, width: 8, channels: 3}, "
                "head: [global_avgpool, {dense: {units: 2}}]}")
    assert resdsl.resolve(one_line).name == "t"
    with pytest.raises(SpecError) as info:
        resdsl.load_spec("resdsl: 1")
    assert info.value.code == "missing-key"


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(blacklist_characters="\n\r\x00/", blacklist_categories=("Cs",)), max_size=40),
       st.sampled_from([".yaml", ".yml", ".json", ".YML"]))
def test_any_missing_name_with_a_yaml_suffix_is_no_such_file(stem, suffix):
    name = "nonexistent-" + stem + suffix
    with pytest.raises(SpecError) as info:
        resdsl.load_spec(name)
    assert info.value.code == "no-such-spec" and "no such file" in info.value.first.message
