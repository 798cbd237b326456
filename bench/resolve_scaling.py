"""Resolve time against depth: the paper's CIFAR nets (20 ... 1202 layers) and a
synthetic 10,000-block net. Linear growth shows as a flat time per block.

    python bench/resolve_scaling.py
"""
from __future__ import annotations

import statistics
import subprocess
import sys
import time

import resdsl

SYNTHETIC = """\
resdsl: 1
name: synthetic_{blocks}
input: {{height: 8, width: 8, channels: 3}}
stem: [{{conv: {{filters: 16, kernel: 3, padding: 1}}}}, norm, act]
stages:
  - {{block: basic, filters: 16, repeat: {blocks}}}
head: [global_avgpool, {{dense: {{units: 10}}}}]
"""


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    cases = [(f"cifar_resnet{d}", resdsl.load_spec(f"cifar_resnet{d}")) for d in (20, 56, 110, 1202)]
    cases += [(f"synthetic {b} blocks", resdsl.load_spec(SYNTHETIC.format(blocks=b))) for b in (2500, 10000)]
    print(f"{'network':<24}{'blocks':>8}{'ops':>8}{'resolve s':>12}{'us/block':>10}")
    per_block = []
    for label, spec in cases:
        r = resdsl.resolve(spec)
        n = len(r.blocks)
        t = best_of(lambda spec=spec: resdsl.resolve(spec), 5 if n < 2000 else 2)
        per_block.append((n, t / n))
        print(f"{label:<24}{n:>8}{len(r.graph):>8}{t:>12.4f}{1e6 * t / n:>10.1f}")
    big = [pb for n, pb in per_block if n >= 100]
    spread = max(big) / min(big)
    print(f"\ntime per block, nets of 100+ blocks: max/min = {spread:.2f} (1.0 = perfectly linear)")
    # Least-squares exponent of time against blocks (1.0 = linear).
    import math
    xs = [math.log(n) for n, _ in per_block if n >= 100]
    ys = [math.log(pb * n) for n, pb in per_block if n >= 100]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    print(f"fitted exponent of resolve time vs blocks: {slope:.2f}")
    cli = []
    for _ in range(3):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "resdsl", "validate", "cifar_resnet1202"], check=True,
                       capture_output=True)
        cli.append(time.perf_counter() - t)
    print(f"`resdsl validate cifar_resnet1202` wall time (whole process, best of 3): {min(cli):.2f} s")


if __name__ == "__main__":
    main()
