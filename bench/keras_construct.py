"""What constructing Keras leaf layers with attribute tracking off
(resdsl/backends/keras/construct.py) saves on `resdsl.build(spec,
backend="keras")`: the same build with the switch and with Keras' usual
construction, side by side in one process.

    python bench/keras_construct.py                       # cifar_resnet1202, 4 rounds
    python bench/keras_construct.py --spec resnet50 -r 6

Each round builds both ways, in an order that alternates from round to round,
after clearing Keras' session and collecting garbage. Reported: median wall
and CPU time of each side, every round's wall time, and the ratio. Both sides
make the same layers and variables (tests/backends/test_keras_construct.py).
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
from resdsl.backends.keras import construct

USUAL, UNTRACKED = "usual construction", "construct.untracked"


def build_once(spec: str, untracked: bool, switch) -> tuple[float, float, int]:
    construct._NoTracking = switch if untracked else None  # None: the path for a Keras without the switch
    keras.backend.clear_session()
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    model = resdsl.build(spec, backend="keras")
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return wall, cpu, model.count_params()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", default="cifar_resnet1202")
    ap.add_argument("-r", "--rounds", type=int, default=4)
    args = ap.parse_args(argv)
    switch = construct._NoTracking
    if switch is None:
        print("this Keras has no tracking switch: both sides would be the usual construction", file=sys.stderr)
        return 1
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (before)")
    resdsl.build("cifar_resnet20", backend="keras")  # warm: imports, signatures, first-use caches
    runs: dict[str, list] = {USUAL: [], UNTRACKED: []}
    try:
        for r in range(args.rounds):
            for label in (USUAL, UNTRACKED) if r % 2 else (UNTRACKED, USUAL):
                runs[label].append(build_once(args.spec, label == UNTRACKED, switch))
    finally:
        construct._NoTracking = switch
    counts = {p for side in runs.values() for _, _, p in side}
    assert len(counts) == 1, f"the two sides built different parameter counts: {counts}"
    median = {k: (statistics.median(w for w, _, _ in v), statistics.median(c for _, c, _ in v))
              for k, v in runs.items()}
    for label, (wall, cpu) in median.items():
        rounds = ", ".join(f"{w:.2f}" for w, _, _ in runs[label])
        print(f"{label:>20}: {wall:5.2f} s wall, {cpu:5.2f} s CPU  (rounds {rounds} s)")
    wall, cpu = (median[UNTRACKED][i] / median[USUAL][i] for i in (0, 1))
    print(f"{args.spec}, {counts.pop():,} params: untracked / usual = {wall:.2f} wall, {cpu:.2f} CPU"
          f" (medians of {args.rounds})")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (after)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
