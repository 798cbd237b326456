"""Helpers for the backend tests: shipped specs at a smaller input, emitted
modules imported from real files, and batch-norm statistics that matter."""
from __future__ import annotations

import importlib.util
import re
import subprocess
import sys

import pytest

import resdsl
from resdsl.spec.shipped import shipped_path

# User blocks nested in user blocks, a custom shortcut, attributes that differ
# between instances of one block kind (activation, 'same' padding at odd and
# even sizes, zero-init), 60-character layer names.
EDGE = """\
resdsl: 1
name: edge
input: {height: 34, width: 31, channels: 3}
blocks:
  inner:
    params: {k: 3}
    main:
      - conv: {filters: $filters, kernel: $k, stride: $stride, padding: same}
      - norm
      - act
    shortcut: projection
  outer:
    main:
      - block:
          type: inner
          filters: $filters
          stride: $stride
          name: a_rather_long_layer_name_that_still_fits_in_sixty_four_chars
      - zeropad: {padding: [0, 1, 0, 1], name: another_rather_long_layer_name_just_to_make_lines_long_ok}
      - maxpool: {size: 2, stride: 1}
      - block: {type: inner, filters: $filters, name: second, args: {k: 1}}
    shortcut:
      - conv: {filters: $filters, kernel: 1, stride: $stride}
      - norm: {zero_init: true}
    after: [act]
stem:
  - conv: {filters: 8, kernel: 3, padding: same}
stages:
  - {block: outer, filters: 8, repeat: 2, stride: 2, activation: silu}
  - {block: outer, filters: 16, repeat: 2, stride: 2, activation: tanh}
  - {block: basic, filters: 16, repeat: 2, zero_init_last_norm: true, shortcut: identity}
  - {block: basic, filters: 16, repeat: 2, activation: relu6, shortcut: identity}
head: [global_avgpool, {dense: {units: 3, activation: sigmoid}}]
"""


def _resolve_small(name: str, size: int = 64):
    """A shipped spec with its ImageNet-sized input (over 128 pixels: 224, and timm's
    native 176 and 160 for resnet10t and resnetrs50) shrunk to size x size: those
    specs' stages and heads do not depend on the input size (global pooling)."""
    text = shipped_path(name).read_text(encoding="utf-8")
    text = re.sub(r"input: \{height: (\d+), width: \d+",
                  lambda m: f"input: {{height: {size}, width: {size}" if int(m[1]) > 128 else m[0], text)
    return resdsl.resolve(text)


def _import_file(path, name: str):
    """Import a module from a file, as a user imports an emitted one."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _randomise_norms(model, seed: int = 0) -> None:
    """Fresh BN layers compute nearly the identity; give them weights and running
    statistics that change the result."""
    import torch
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)


@pytest.fixture(scope="session")
def edge_spec():
    return EDGE


@pytest.fixture(scope="session")
def resolve_small():
    return _resolve_small


@pytest.fixture(scope="session")
def import_file():
    return _import_file


@pytest.fixture(scope="session")
def randomise_norms():
    return _randomise_norms


# ruff's own defaults (--isolated: not this project's settings, as a user runs it), then
# line length (E501 at 120 columns), whitespace, bugbear and import order.
LINT_RUNS = ([], ["--select", "E,F,W,B,I", "--line-length", "120"])


def _ruff(*args):
    return subprocess.run([sys.executable, "-m", "ruff", "check", "--isolated", "--no-cache", *args], check=False,
                          capture_output=True, text=True, timeout=120)


def _lint_emitted(files: dict, folder) -> None:
    """Writes `files` (name -> source) into `folder` and asserts ruff finds nothing.
    First it shows that the check can fail: a 121-column line is an E501."""
    if importlib.util.find_spec("ruff") is None:
        pytest.skip("ruff is not installed (pip install resdsl[test])")
    control = folder / "control"
    control.mkdir()
    (control / "long.py").write_text(f"X = {'1' * 117}\n", encoding="utf-8")
    done = _ruff(*LINT_RUNS[1], str(control))
    assert done.returncode == 1 and "E501" in done.stdout, done.stdout + done.stderr
    emitted = folder / "emitted"
    emitted.mkdir()
    for name, src in files.items():
        (emitted / name).write_text(src, encoding="utf-8")
    for extra in LINT_RUNS:
        done = _ruff(*extra, str(emitted))
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-1000:]


@pytest.fixture(scope="session")
def lint_emitted():
    return _lint_emitted


@pytest.fixture(scope="module")
def one_torch_thread():
    """torch's and TensorFlow's thread pools fight over the two cores (30x slower):
    `pytestmark = pytest.mark.usefixtures("one_torch_thread")` in a module."""
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
