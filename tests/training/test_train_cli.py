"""`resdsl train` and `resdsl compare` from the command line: clear errors for
bad data and bad options (exit 1, no traceback), and a real short comparison."""
from __future__ import annotations

import csv
import subprocess
import sys

import pytest

pytest.importorskip("torch")
pytest.importorskip("matplotlib")
from tests.training.train_data import TINY


def resdsl(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "resdsl", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=600)


@pytest.fixture
def spec(tmp_path):
    p = tmp_path / "tiny.yaml"
    p.write_text(TINY)
    return p


def _fails(out, *fragments):
    assert out.returncode == 1, out.stderr
    assert "Traceback" not in out.stderr
    for f in fragments:
        assert f in out.stderr, out.stderr


def test_bad_data_is_a_clear_error(spec, tmp_path):
    _fails(resdsl("train", spec, "--data", tmp_path / "missing.tar.gz"), "resdsl: error:", "no such file or folder")
    bad = tmp_path / "cifar-10-python.tar.gz"
    bad.write_bytes(b"\x1f\x8b truncated")
    _fails(resdsl("train", spec, "--data", bad), "cannot read the archive", "hint:")
    assert not (tmp_path / "runs").exists()


def test_data_that_does_not_fit_the_network(spec, tmp_path):
    from tests.training.train_data import make_signs
    _fails(resdsl("train", spec, "--data", make_signs(tmp_path / "signs")),
           "the images are 64×64×3 (H×W×C) but 'tiny' takes 32×32×3")


def test_bad_options(spec, cifar_tgz, tmp_path):
    _fails(resdsl("train", spec, "--data", cifar_tgz, "--epochs", "0"), "--epochs must be a positive whole number")
    _fails(resdsl("train", spec, "--data", cifar_tgz, "--batch-size", "1000"),
           "the batch size 1000 is larger than the 200 training images")
    out = resdsl("train", spec, "--data", cifar_tgz, "--preset", "papercifar")
    assert out.returncode == 2 and "invalid choice" in out.stderr  # argparse's own message
    _fails(resdsl("train", tmp_path / "nope.yaml", "--data", cifar_tgz), "nope.yaml")
    import torch
    if not torch.cuda.is_available():
        _fails(resdsl("train", spec, "--data", cifar_tgz, "--device", "cuda", "--out", tmp_path / "c"),
               "--device cuda, but PyTorch sees no CUDA GPU")


def test_a_network_with_several_outputs_is_not_trained(spec, cifar_tgz, tmp_path):
    tapped = tmp_path / "tapped.yaml"
    tapped.write_text("extends: ./tiny.yaml\nname: tapped\noutputs: [layer1, fc1]\n")
    for args in (["train", tapped], ["compare", spec, tapped]):
        _fails(resdsl(*args, "--data", cifar_tgz, "--out", tmp_path / "runs", cwd=tmp_path),
               "'tapped' has 2 outputs", "training needs one", "hint: train the spec without `outputs:`")
    assert not (tmp_path / "runs").exists()  # refused before any run folder or training


def test_compare_writes_table_and_pictures(spec, cifar_tgz, tmp_path):
    plain = tmp_path / "tiny_plain.yaml"
    plain.write_text(TINY.replace("name: tiny", "name: tiny_plain").replace("repeat: 1", "repeat: 1, shortcut: none"))
    out = resdsl("compare", spec, plain, "--data", cifar_tgz, "--epochs", "1", "--batch-size", "40",
                 "--out", tmp_path / "cmp", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "curves:" in out.stdout and "| tiny_plain | torch | 1 |" in out.stdout
    with open(tmp_path / "cmp" / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["spec"] for r in rows] == ["tiny", "tiny_plain"]
    assert int(rows[0]["params"]) > int(rows[1]["params"])  # the projection shortcut's 1x1 conv and norm
    assert (tmp_path / "cmp" / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = (tmp_path / "cmp" / "curves.svg").read_text()
    assert "<svg" in svg and "Validation error" in svg
    for run in ("tiny-torch", "tiny_plain-torch"):
        assert (tmp_path / "cmp" / run / "checkpoint.pt").exists()


def test_set_reaches_train_and_compare(spec, cifar_tgz, tmp_path):
    """--set works on train and compare as on every other command: the run trains the overridden net."""
    import json

    import resdsl as api
    wide = ["--set", "stages.1.filters=24"]
    out = resdsl("train", spec, "--data", cifar_tgz, "--epochs", "1", "--batch-size", "40", *wide,
                 "--out", tmp_path / "t")
    assert out.returncode == 0, out.stderr[-2000:]
    params = api.resolve(TINY, sets=["stages.1.filters=24"]).params
    assert params != api.resolve(TINY).params
    assert json.loads((tmp_path / "t" / "run.json").read_text())["params"] == params
    out = resdsl("compare", spec, "--data", cifar_tgz, "--epochs", "1", "--batch-size", "40", *wide,
                 "--out", tmp_path / "c")
    assert out.returncode == 0, out.stderr[-2000:]
    assert "| tiny | torch | 1 |" in out.stdout and f"{params:,}" in out.stdout
    _fails(resdsl("train", spec, "--data", cifar_tgz, "--set", "stages.1.filtres=24"),
           "<--set>:1:10: error: unknown key 'filtres'", "did you mean 'filters'?")
