"""The `resdsl` command for the core: list, validate, summary, schema, help."""
import json
import subprocess
import sys

import pytest

import resdsl
from resdsl.cli import main


def run(*args):
    return subprocess.run([sys.executable, "-m", "resdsl", *args], capture_output=True, text=True)


def test_list_shows_every_shipped_spec_with_its_description(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == len(resdsl.shipped_names())
    line = next(x for x in out if x.startswith("resnet50 "))
    assert "torchvision" in line


def test_validate_prints_counts_and_shapes(capsys):
    assert main(["validate", "resnet50", "cifar_resnet20"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == ("resnet50: ok  params 25,557,032 trainable (PyTorch's total) + 53,120 non-trainable "
                      "= 25,610,152 (Keras' total)  "
                      "MACs 4,089,184,256  input 3×224×224 -> output 1000")
    assert out[1].startswith("cifar_resnet20: ok  params 269,722 trainable")


def test_validate_exits_1_if_any_spec_fails(tmp_path, capsys, tiny_text):
    bad = tmp_path / "bad.yaml"
    bad.write_text(tiny_text.replace("units: 10", "unit: 10"))
    assert main(["validate", "resnet18", str(bad)]) == 1
    captured = capsys.readouterr()
    assert captured.out.startswith("resnet18: ok")
    assert f"{bad}:14:13: error: unknown key 'unit' in head.1.dense [unknown-key]" in captured.err


def test_error_format_json(tmp_path, tiny_text):
    bad = tmp_path / "bad.yaml"
    bad.write_text(tiny_text.replace("block: basic, filters: 32", "block: basci, filters: 32"))
    proc = run("validate", str(bad), "--error-format", "json")
    assert proc.returncode == 1
    (err,) = json.loads(proc.stderr)
    assert (err["code"], err["line"], err["column"]) == ("unknown-block", 11, 13)
    assert err["hint"] == "did you mean 'basic'?"


@pytest.mark.parametrize("level,rows", [("stage", 2), ("block", 4), ("layer", 30)])
def test_summary_levels(capsys, tiny_text, tmp_path, level, rows):
    f = tmp_path / "tiny.yaml"
    f.write_text(tiny_text)
    assert main(["summary", str(f), "--level", level]) == 0
    out = capsys.readouterr().out
    r = resdsl.resolve(tiny_text)
    assert f"Trainable params: {r.params:,}" in out and f"MACs: {r.macs:,}" in out
    assert f"Non-trainable params: {r.buffers:,}" in out
    body = [line for line in out.splitlines() if line.startswith(("layer", "conv", "bn", "act", "input", "avgpool",
                                                                    "fc"))]
    stage_rows = [line for line in body if line.startswith("layer")]
    assert len(stage_rows) == rows
    assert "10" in body[-1] and body[-1].startswith("fc1")


def test_schema_is_json_schema_of_the_language(capsys):
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert {"resdsl", "name", "input", "stages", "stem", "head", "blocks", "defaults"} <= set(schema["properties"])
    assert schema["additionalProperties"] is False


@pytest.mark.parametrize("cmd", [[], ["list"], ["validate"], ["summary"], ["schema"], ["compile"], ["render"]])
def test_every_command_has_help(cmd):
    proc = run(*cmd, "--help")
    assert proc.returncode == 0
    assert proc.stdout.startswith("usage: resdsl")
    assert "--error-format" in proc.stdout


def test_unknown_spec_name_is_a_clean_error():
    proc = run("validate", "resnet_50")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "no shipped spec of that name" in proc.stderr and "did you mean 'resnet50'" in proc.stderr


def test_bad_limit_flag_is_a_clean_error():
    proc = run("validate", "resnet18", "--limit", "max_bogus=3")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "unknown limit 'max_bogus'" in proc.stderr
