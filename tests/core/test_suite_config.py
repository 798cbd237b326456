"""The suite's own settings (pyproject.toml, scripts/test.sh) do what they say:
the quick run skips the tests marked slow and the README's test command runs
them too; a warning from resdsl fails its test while the known third-party ones
are filtered by message and module."""
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
SLOW_TEST = "tests/core/test_packaging.py::test_wheel_installs_and_finds_shipped_specs"


def _collected(*args) -> str:
    done = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                           "tests/core/test_packaging.py", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout


def test_the_quick_run_skips_slow_tests_and_test_sh_runs_them():
    quick = _collected()
    assert SLOW_TEST not in quick and re.search(r"\b1 deselected\b", quick), quick
    script = (ROOT / "scripts" / "test.sh").read_text(encoding="utf-8")
    pytest_line = next(line for line in script.splitlines() if line.startswith("python -m pytest"))
    assert pytest_line.endswith('"$@"')  # `bash scripts/test.sh -k foo` still works
    marks = re.search(r"-m (\"[^\"]+\"|'[^']+')", pytest_line)[1].strip("\"'")
    everything = _collected("-m", marks)
    assert SLOW_TEST in everything and "deselected" not in everything, everything


def test_a_warning_raised_from_resdsl_fails_its_test():
    with pytest.raises(UserWarning, match="a resdsl warning"):
        warnings.warn_explicit("a resdsl warning", UserWarning, str(ROOT / "resdsl" / "x.py"), 1,
                               module="resdsl.ir.x")
    with pytest.raises(DeprecationWarning):
        warnings.warn_explicit("old", DeprecationWarning, "x.py", 1, module="resdsl")


def test_known_third_party_warnings_are_filtered_by_message_and_module():
    message = "__array__ implementation doesn't accept a copy keyword, so passing copy=False failed."
    with warnings.catch_warnings(record=True) as seen:  # records under the suite's filters
        warnings.warn_explicit(message, DeprecationWarning, "core.py", 172, module="keras.src.backend.tensorflow.core")
        warnings.warn_explicit(message, DeprecationWarning, "other.py", 1, module="someone.else")
    assert [(str(w.message), w.filename) for w in seen] == [(message, "other.py")]  # only the one from elsewhere
