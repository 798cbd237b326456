"""In-memory torch builds travel: torch.save in one process, torch.load in a fresh
one; torch.multiprocessing.spawn with the model as an argument."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

import resdsl

ROOT = Path(__file__).resolve().parents[2]
TINY = """\
resdsl: 1
name: tiny_portable
input: {height: 8, width: 8, channels: 3}
stem:
  - conv: {filters: 4, kernel: 3, stride: 2, padding: same}
  - norm
  - act
  - maxpool: {size: 3, stride: 2, padding: same}
stages:
  - {block: basic, filters: 4, repeat: 1}
  - {block: bottleneck, filters: 4, repeat: 1, stride: 2}
head: [global_avgpool, {dense: {units: 3, activation: softmax}}]
"""


def _fresh_python(code: str, *args: str) -> str:
    """Runs `code` in a new interpreter that has not built anything."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _model_and_output():
    torch.manual_seed(0)
    model = resdsl.build(TINY).eval()
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        return model, x, model(x)


def test_torch_save_loads_in_a_fresh_process(tmp_path):
    model, x, y = _model_and_output()
    # Conv2dPad, MaxPool2dPad and Dense (runtime helpers) as well as the block classes.
    kinds = {type(m).__name__ for m in model.modules()}
    assert {"Conv2dPad", "MaxPool2dPad", "Dense"} <= kinds
    torch.save({"model": model, "x": x, "y": y}, tmp_path / "model.pt")
    out = _fresh_python(
        "import sys, torch\n"
        "d = torch.load(sys.argv[1], weights_only=False)\n"
        "with torch.no_grad():\n"
        "    print(torch.equal(d['model'](d['x']), d['y']), type(d['model']).__name__)\n",
        str(tmp_path / "model.pt"))
    assert out.split() == ["True", "TinyPortable"]


def _child(rank, model, x, y, path):
    with torch.no_grad():
        Path(path).write_text(str(torch.equal(model(x), y)))


def test_multiprocessing_spawn(tmp_path):
    model, x, y = _model_and_output()
    torch.multiprocessing.spawn(_child, args=(model, x, y, str(tmp_path / "ok")), nprocs=1)
    assert (tmp_path / "ok").read_text() == "True"


def test_deepcopy_and_rebuild_share_classes():
    import copy
    model, x, y = _model_and_output()
    twin = copy.deepcopy(model)
    assert type(twin) is type(model) is type(resdsl.build(TINY))
    with torch.no_grad():
        assert torch.equal(twin(x), y)
