"""The backend tests' lint of emitted source, which first proves it can fail.
The helpers every folder shares (specs at a smaller input, the edge-case spec,
emitted modules imported from files, batch-norm statistics that matter) are in
tests/helpers/ and their fixtures in tests/conftest.py."""
from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

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
