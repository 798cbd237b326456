"""The code base stays lint-clean under the project's ruff settings (pyproject.toml)."""
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


def test_ruff_is_clean():
    ruff = shutil.which("ruff") or pytest.skip("ruff is not installed")
    proc = subprocess.run([ruff, "check", "--output-format", "concise", "."], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_lint_check_would_catch_a_problem(tmp_path):
    ruff = shutil.which("ruff") or pytest.skip("ruff is not installed")
    bad = tmp_path / "bad.py"
    bad.write_text("import os\n")
    proc = subprocess.run([ruff, "check", "--config", str(ROOT / "pyproject.toml"), str(bad)],
                          capture_output=True, text=True)
    assert proc.returncode == 1 and "F401" in proc.stdout
