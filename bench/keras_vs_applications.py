"""resdsl's resnet50_keras against keras.applications.ResNet50(weights=None),
side by side in one process: build time and predict throughput as ratios.
Runs alternate (A, B, A, B, ...) and report medians, so load on the machine
hits both sides alike. Target: within 2% (build ratio ≤ 1.02, throughput
ratio ≥ 0.98).

    python bench/keras_vs_applications.py [--repeats 5] [--batch 8] [--size 224]
"""
from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time

import keras
import numpy as np

import resdsl
from resdsl.spec.shipped import shipped_path


def timed(fn):
    gc.collect()
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--size", type=int, default=224)
    args = p.parse_args()
    spec = shipped_path("resnet50_keras").read_text(encoding="utf-8").replace(
        "height: 224, width: 224", f"height: {args.size}, width: {args.size}")
    shape = (args.size, args.size, 3)

    def ours_fn():
        return resdsl.build(spec, backend="keras")

    def theirs_fn():
        return keras.applications.ResNet50(weights=None, input_shape=shape)

    ours_fn(), theirs_fn()  # warm-up: first-use costs of TensorFlow and Keras
    keras.backend.clear_session()

    build = {"resdsl": [], "keras.applications": []}
    for _ in range(args.repeats):
        for label, fn in (("resdsl", ours_fn), ("keras.applications", theirs_fn)):
            t, _ = timed(fn)
            build[label].append(t)
            keras.backend.clear_session()

    ours, theirs = ours_fn(), theirs_fn()
    assert ours.count_params() == theirs.count_params()
    x = np.random.default_rng(0).normal(size=(args.batch, *shape)).astype("float32")
    for m in (ours, theirs):  # compile the predict function once
        m.predict(x, batch_size=args.batch, verbose=0)
    speed = {"resdsl": [], "keras.applications": []}
    for _ in range(args.repeats):
        for label, m in (("resdsl", ours), ("keras.applications", theirs)):
            t, _ = timed(lambda m=m: m.predict(x, batch_size=args.batch, verbose=0))
            speed[label].append(args.batch / t)

    b_ours, b_theirs = statistics.median(build["resdsl"]), statistics.median(build["keras.applications"])
    s_ours, s_theirs = statistics.median(speed["resdsl"]), statistics.median(speed["keras.applications"])
    print(f"resnet50_keras at {args.size}x{args.size}, batch {args.batch}, median of {args.repeats} alternating runs")
    print(f"build:   resdsl {b_ours:6.2f} s   keras.applications {b_theirs:6.2f} s   ratio {b_ours / b_theirs:.3f}"
          "  (target <= 1.02)")
    print(f"predict: resdsl {s_ours:6.1f} img/s keras.applications {s_theirs:6.1f} img/s ratio "
          f"{s_ours / s_theirs:.3f}  (target >= 0.98)")
    return 0 if b_ours / b_theirs <= 1.02 and s_ours / s_theirs >= 0.98 else 1


if __name__ == "__main__":
    sys.exit(main())
