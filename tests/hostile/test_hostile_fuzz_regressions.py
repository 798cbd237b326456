"""Replays every input under tests/fixtures/fuzz/: each once crashed, hung or
misbuilt resdsl (found by the fuzzing campaign, the property tests or the
injection corpus); each must now give exactly the recorded outcome."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

import resdsl
from resdsl.backends import get_backend

FOLDER = Path(__file__).parents[1] / "fixtures" / "fuzz"
EXPECTED = {k: v for k, v in json.loads((FOLDER / "expected.json").read_text()).items() if not k.startswith("_")}


def test_every_fixture_has_an_expectation_and_back():
    assert sorted(p.name for p in FOLDER.glob("*.yaml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fuzz_regression(name):
    exp = EXPECTED[name]
    path = FOLDER / name
    t0 = time.perf_counter()
    if exp["resolve"] == "ok":
        r = resdsl.resolve(str(path))
        for backend, outcome in exp["emit"].items():
            try:
                compile(get_backend(backend).emit(r), f"<{backend}>", "exec")
                got = "ok"
            except resdsl.SpecError as exc:
                got = exc.code
            assert got == outcome, backend
    else:
        with pytest.raises(resdsl.SpecError) as info:
            resdsl.resolve(str(path))
        d = info.value.first
        assert [d.code, d.span.line, d.span.column] == exp["resolve"]
        assert d.span.file == str(path)
    assert time.perf_counter() - t0 < 5  # none of them may hang again


def test_the_fuzz_harness_accepts_every_fixture():
    """The campaign's own oracle agrees: no fixture is a finding any more."""
    sys.path.insert(0, str(Path(__file__).parents[2] / "fuzz"))
    try:
        import harness
    finally:
        sys.path.pop(0)
    for name, exp in EXPECTED.items():
        if exp["resolve"] != "ok":
            want = exp["resolve"][0]
        else:  # the harness emits torch first, then keras; the first refusal is its answer
            want = next((v for v in exp["emit"].values() if v != "ok"), "ok")
        assert harness.run_one((FOLDER / name).read_bytes(), emit=True) == want, name
