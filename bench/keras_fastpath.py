"""What each of the Keras backend's fast paths (resdsl/backends/keras/fastpath.py)
saves on `resdsl.build(spec, backend="keras")`, side by side in one process:
the build with every piece, without each piece in turn, and with none
(RESDSL_FASTPATH=0's build).

    python bench/keras_fastpath.py                        # cifar_resnet1202, 3 rounds
    python bench/keras_fastpath.py --spec resnet50 -r 5

Each round builds every side once, in an order that alternates from round to
round, after clearing Keras' session and collecting garbage; the build is what
`resdsl.backends.keras.build` does (run the emitted module's build_model()
inside `fastpath.building(...)`), with the pieces chosen. Reported per side:
the median wall and CPU time, and for each piece the share of the build it
saves: (without it - with all) / with all. A piece is kept where that is at
least 5 % (docs/benchmarks.md).
"""
from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time

import keras

import resdsl
from resdsl.backends.codegen import load_source
from resdsl.backends.keras import BACKEND, emit, fastpath


def build_once(module, pieces) -> tuple[float, float, int]:
    keras.backend.clear_session()
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    with fastpath.building(only=pieces):
        model = module.build_model()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return wall, cpu, model.count_params()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", default="cifar_resnet1202")
    ap.add_argument("-r", "--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    names = list(fastpath.PIECES)
    sides = {"all": names, **{f"without {p}": [q for q in names if q != p] for p in names}, "none": []}
    r = resdsl.resolve(args.spec)
    module = load_source(emit(r), r.name, BACKEND)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (before)")
    resdsl.build("cifar_resnet20", backend="keras")  # warm: imports, first-use caches
    runs: dict[str, list] = {side: [] for side in sides}
    order = list(sides)
    for i in range(args.rounds):
        for side in order if i % 2 == 0 else order[::-1]:
            runs[side].append(build_once(module, sides[side]))
        print(f"  round {i + 1}: " + ", ".join(f"{s} {runs[s][-1][0]:.2f} s" for s in order), flush=True)
    counts = {p for side in runs.values() for _, _, p in side}
    assert len(counts) == 1, f"the sides built different parameter counts: {counts}"
    median = {s: (statistics.median(w for w, _, _ in v), statistics.median(c for _, c, _ in v))
              for s, v in runs.items()}
    for side, (wall, cpu) in median.items():
        print(f"{side:>22}: {wall:6.2f} s wall, {cpu:6.2f} s CPU")
    base = median["all"]
    for p in names:
        wall, cpu = median[f"without {p}"]
        print(f"{p:>22} saves {100 * (wall - base[0]) / base[0]:5.1f} % wall, "
              f"{100 * (cpu - base[1]) / base[1]:5.1f} % CPU of the build")
    wall, cpu = median["none"]
    print(f"{'all together':>22} save {100 * (wall - base[0]) / base[0]:5.1f} % wall, "
          f"{100 * (cpu - base[1]) / base[1]:5.1f} % CPU ({args.spec}, {counts.pop():,} params, "
          f"medians of {args.rounds})")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (after)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
