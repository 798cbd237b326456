"""Measure what hostile documents cost before resdsl rejects them (the figures in
docs/limits.md). Run: python fuzz/measure_bounds.py"""
from __future__ import annotations

import resource
import time
import tracemalloc

import resdsl
from resdsl.spec.load import loads


def billion_laughs(levels: int = 9) -> str:
    lines = ["resdsl: 1", "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


CASES = {
    "billion laughs (9 levels x 9 aliases)": billion_laughs(),
    "flat list filling the 1 MB limit": "a: [" + "1," * 499_990 + "]\n",
    "nesting 50,000 deep": "a: " + "[" * 50_000 + "]" * 50_000 + "\n",
    "repeat: 10^6 in one stage": "resdsl: 1\nname: t\ninput: {height: 8, width: 8, channels: 1}\n"
                                  "stages: [{block: basic, filters: 1, repeat: 1000000}]\n",
    "64 chained user blocks": "resdsl: 1\nname: t\ninput: {height: 8, width: 8, channels: 1}\nblocks:\n" + "".join(
        f"  b{i}:\n    main: [{{block: {{type: b{i + 1}, filters: $filters}}}}]\n    shortcut: none\n"
        for i in range(64)) + "  b64:\n    main: [{conv: {filters: $filters, padding: same}}]\n    shortcut: none\n"
        "stages: [{block: b0, filters: 1}]\n",
}


def main() -> None:
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for label, text in CASES.items():
        t0 = time.perf_counter()
        try:
            resdsl.resolve(loads(text, "<m>"))
            outcome = "accepted"
        except resdsl.SpecError as exc:
            outcome = f"{exc.code} at {exc.first.span.line}:{exc.first.span.column}"
        untraced = time.perf_counter() - t0
        tracemalloc.start()
        try:
            resdsl.resolve(loads(text, "<m>"))
        except resdsl.SpecError:
            pass
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(f"{label:<40} {len(text.encode()):>9,} B  {untraced * 1000:8.1f} ms  peak {peak / 2**20:6.1f} MiB  "
              f"-> {outcome}")
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024
    print(f"max RSS growth over all cases: {grown:.1f} MiB")


if __name__ == "__main__":
    main()
