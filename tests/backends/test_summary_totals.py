"""`resdsl summary`'s totals equal torchinfo.summary and Keras' model.summary()
on the same network, and `--format json` carries the same numbers."""
import json
import re

import pytest

import resdsl
from resdsl.cli import main

SPEC = "cifar_resnet20"


def ours(capsys) -> dict:
    assert main(["summary", SPEC]) == 0
    text = capsys.readouterr().out
    return {k: int(v.replace(",", "")) for k, v in re.findall(r"^([A-Za-z-]+ params): ([\d,]+)\b", text, re.M)}


def test_totals_equal_torchinfo(capsys):
    torchinfo = pytest.importorskip("torchinfo")
    model = resdsl.build(SPEC, backend="torch")
    ref = torchinfo.summary(model, input_size=(1, 3, 32, 32), verbose=0)
    got = ours(capsys)
    # torchinfo counts parameters only; BatchNorm's running statistics are buffers
    assert got["Trainable params"] == ref.trainable_params == ref.total_params == 269_722
    # the figure a torch user compares with torchinfo is labelled as such, in both commands
    assert main(["summary", SPEC]) == 0
    assert re.search(r"^Trainable params: 269,722  \(PyTorch's total", capsys.readouterr().out, re.M)
    assert main(["validate", SPEC]) == 0
    assert "params 269,722 trainable (PyTorch's total) + 1,376 non-trainable = 271,098 (Keras' total)" \
        in capsys.readouterr().out
    assert main(["summary", SPEC, "--format", "json"]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert rec["trainable_params"] == ref.trainable_params
    assert sum(row["params"] for row in rec["rows"]) == ref.total_params


def test_totals_equal_keras_model_summary(capsys):
    pytest.importorskip("keras")
    model = resdsl.build(SPEC, backend="keras")
    lines = []
    model.summary(print_fn=lambda s, **_: lines.append(s))
    text = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(lines))
    ref = {k: int(v.replace(",", "")) for k, v in re.findall(r"(Total|Trainable|Non-trainable) params: ([\d,]+)", text)}
    got = ours(capsys)
    assert got["Total params"] == ref["Total"] == model.count_params()
    assert got["Trainable params"] == ref["Trainable"]
    assert got["Non-trainable params"] == ref["Non-trainable"] == 1376
