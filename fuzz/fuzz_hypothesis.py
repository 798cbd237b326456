"""The fuzzing campaign without atheris: hypothesis drives the spec-aware
mutations of tests/hostile/hostile_gen.py (and raw text) for a fixed time.

    python fuzz/fuzz_hypothesis.py --minutes 10 [--emit]

Findings (anything but a located SpecError) are saved under fuzz/findings/, as
with the atheris driver."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "fuzz"), str(ROOT / "tests" / "hostile")]

import harness  # noqa: E402 - needs the sys.path above
import hostile_gen  # noqa: E402

SEEDS = [p.read_text() for p in sorted((ROOT / "specs").glob("*.yaml"))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--emit", action="store_true", help="also emit both backends' source and compile it")
    args = ap.parse_args()
    stop = time.monotonic() + args.minutes * 60
    stats = {"runs": 0, "findings": 0}

    def one(data: bytes) -> None:
        stats["runs"] += 1
        try:
            harness.run_one(data, emit=args.emit)
        except Exception as exc:  # noqa: BLE001 - every other exception is a finding
            stats["findings"] += 1
            print(f"FINDING {type(exc).__name__}: {exc!s:.200} -> "
                  f"{harness.save_finding(data, exc, ROOT / 'fuzz' / 'findings')}", flush=True)

    inputs = st.one_of(st.randoms(use_true_random=True).map(lambda r: hostile_gen.mutated_spec(r, SEEDS).encode()),
                       st.text(max_size=400).map(str.encode), st.binary(max_size=400))

    @settings(max_examples=10 ** 9, deadline=None, database=None, phases=["generate"],
              suppress_health_check=list(HealthCheck))
    @given(inputs)
    def campaign(data: bytes) -> None:
        if time.monotonic() > stop:
            raise KeyboardInterrupt
        one(data)

    try:
        campaign()
    except KeyboardInterrupt:
        pass
    print(f"STATS {stats} in {args.minutes} min")


if __name__ == "__main__":
    main()
