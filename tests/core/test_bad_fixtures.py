"""Every file in tests/fixtures/bad/ is a broken spec whose first line states the
error it must produce: `# expect: CODE LINE:COL MESSAGE`."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

import resdsl
from resdsl.errors import SpecError

BAD = sorted((Path(__file__).parents[1] / "fixtures" / "bad").glob("*.yaml"))
EXPECT = re.compile(r"^# expect: (?P<code>[a-z-]+) (?P<line>\d+):(?P<col>\d+) (?P<msg>.+)$")


def expectation(path: Path) -> dict:
    m = EXPECT.match(path.read_text(encoding="utf-8").splitlines()[0])
    assert m, f"{path.name}: first line must be '# expect: CODE LINE:COL MESSAGE'"
    return m.groupdict()


def test_there_are_at_least_30_bad_specs():
    assert len(BAD) >= 30


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_bad_spec_reports_expected_error(path):
    exp = expectation(path)
    with pytest.raises(SpecError) as info:
        resdsl.resolve(str(path))
    found = [(d.code, d.span.line, d.span.column, d.message) for d in info.value.diagnostics]
    assert (exp["code"], int(exp["line"]), int(exp["col"]), exp["msg"]) in found, found
    for d in info.value.diagnostics:
        assert d.span.file == str(path)
    rendered = str(info.value)
    assert f"{path}:{exp['line']}:{exp['col']}: error: " in rendered
    assert f"[{exp['code']}]" in rendered


@pytest.mark.parametrize("path", BAD[:8], ids=[p.stem for p in BAD[:8]])
def test_cli_prints_located_error_without_traceback(path):
    exp = expectation(path)
    proc = subprocess.run([sys.executable, "-m", "resdsl", "validate", str(path)],
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert f"{path}:{exp['line']}:{exp['col']}: error:" in proc.stderr
    # The caret line sits under the reported column.
    lines = proc.stderr.splitlines()
    caret = next(line for line in lines if line.strip().startswith("|") and "^" in line)
    source = lines[lines.index(caret) - 1]
    gutter = source.index("| ") + 2
    assert caret.index("^") - gutter == int(exp["col"]) - 1
