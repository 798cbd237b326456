"""Render times (issue 5's scale targets), measured end to end as a user sees them:
resolve + view + DOT + Graphviz layout + write, in one process.

    python bench/render_times.py            # prints one line per case
    python bench/render_times.py --repeat 3 # best of 3

Target: resnet50 at layer level under 5 s; cifar_resnet1202 at stage and block
level renders at all (its layer view is refused by --max-nodes, quickly).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import resdsl
from resdsl.render import RenderError, render

CASES = [("resnet50", "layer", False), ("resnet50", "block", False), ("resnet152", "layer", False),
         ("cifar_resnet1202", "stage", False), ("cifar_resnet1202", "block", False),
         ("cifar_resnet1202", "block", True), ("cifar_resnet1202", "layer", False)]
TARGET = {("resnet50", "layer", False): 5.0}


def once(spec: str, level: str, expand: bool, folder: Path) -> tuple[float, str]:
    start = time.perf_counter()
    try:
        out = render(resdsl.resolve(spec), folder / f"{spec}-{level}.svg", level=level, expand=expand)
        note = f"{out.stat().st_size // 1024} KiB"
    except RenderError as exc:
        note = f"refused: {str(exc)[:60]}…"
    return time.perf_counter() - start, note


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--repeat", type=int, default=1)
    args = p.parse_args()
    dot = subprocess.run(["dot", "-V"], capture_output=True, text=True, check=False).stderr.strip()
    print(f"# {dot}; python {sys.version.split()[0]}")
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        for case in CASES:
            best, note = min(once(*case, Path(tmp)) for _ in range(args.repeat))
            limit = TARGET.get(case)
            verdict = "" if limit is None else (" OK" if best < limit else " TOO SLOW") + f" (target < {limit} s)"
            failed |= limit is not None and best >= limit
            spec, level, expand = case
            print(f"{spec:<18} {level:<6}{' --expand' if expand else '':<10} {best:6.2f} s  {note}{verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
