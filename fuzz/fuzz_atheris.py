"""Coverage-guided fuzzing of the loader, validator and resolver with atheris.

    python fuzz/fuzz_atheris.py [--emit] -max_total_time=900 -timeout=10 CORPUS_DIR

`--emit` also generates both backends' Python source for every spec that
resolves and compiles it (no framework is imported: emitting is text).

Seeds: the shipped specs plus generated ones. Half the mutations are libFuzzer's
byte-level ones, half are spec-aware (tests/hostile/hostile_gen.py: removed keys,
wrong types, extreme numbers, truncations...), so both the YAML reader and the
deep semantic checks get exercised. A finding (anything but a located
SpecError) is saved under fuzz/findings/ and fuzzing goes on, so one bug does not
end the campaign; replay them with tests/hostile/test_fuzz_regressions.py.
"""
from __future__ import annotations

import random
import sys
from pathlib import Path

import atheris

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "fuzz"), str(ROOT / "tests" / "hostile")]

with atheris.instrument_imports(include=["resdsl", "yaml"]):
    import harness
    import hostile_gen

import yaml  # noqa: E402 - after the instrumented imports

FINDINGS = ROOT / "fuzz" / "findings"
STATS = {"runs": 0, "ok": 0, "spec_errors": 0, "findings": 0}
EMIT = "--emit" in sys.argv


def test_one_input(data: bytes) -> None:
    STATS["runs"] += 1
    try:
        result = harness.run_one(data, emit=EMIT)
    except Exception as exc:  # noqa: BLE001 - every other exception is what we hunt
        STATS["findings"] += 1
        path = harness.save_finding(data, exc, FINDINGS)
        print(f"FINDING {type(exc).__name__}: {exc!s:.200} -> {path}", file=sys.stderr)
        return
    STATS["ok" if result == "ok" else "spec_errors"] += 1


def custom_mutator(data: bytes, max_size: int, seed: int) -> bytes:
    rnd = random.Random(seed)
    if rnd.random() < 0.5:
        return atheris.Mutate(data, max_size)
    text = data.decode("utf-8", "replace")
    try:
        parsed = yaml.safe_load(text)
    except yaml.YAMLError:
        parsed = None
    if isinstance(parsed, dict) and rnd.random() < 0.7:
        try:
            out = hostile_gen.dump(hostile_gen.mutate_data(rnd, parsed))
        except Exception:  # noqa: BLE001 - odd data safe_dump cannot write back
            out = hostile_gen.mutate_text(rnd, text)
    else:
        out = hostile_gen.mutate_text(rnd, text)
    return out.encode("utf-8", "surrogatepass")[:max_size]


def seed_corpus(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for spec in (ROOT / "specs").glob("*.yaml"):
        (folder / f"seed_{spec.stem}.yaml").write_bytes(spec.read_bytes())
    rnd = random.Random(0)
    for i in range(50):
        (folder / f"seed_gen{i}.yaml").write_text(hostile_gen.dump(hostile_gen.valid_spec(rnd)))


def main() -> None:
    argv = [a for a in sys.argv if a != "--emit"]
    for d in [a for a in argv[1:] if not a.startswith("-")]:
        seed_corpus(Path(d))
    atheris.Setup(argv, test_one_input, custom_mutator=custom_mutator)
    import atexit
    atexit.register(lambda: print(f"STATS {STATS}", file=sys.stderr, flush=True))
    atheris.Fuzz()


if __name__ == "__main__":
    main()
