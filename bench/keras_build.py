"""How long building cifar_resnet1202 (He et al.'s 1202-layer CIFAR ResNet) takes
in Keras: hand-written functional code, as the articles write it, against
`resdsl.build("cifar_resnet1202", backend="keras")`, side by side in one process.

Hand-written functional Keras recurses once per layer while wiring the graph,
so at Python's default recursion limit it fails with RecursionError; it is
timed with a raised limit. resdsl builds at the default limit.

Both sides build the same 4,816 Keras layers and 6,007 variables. Each repeat
builds both, in alternating order, after clearing Keras' session and
collecting garbage; the script reports the median wall-clock and CPU time of
each side and their ratio (target < 0.5; issue 9: resdsl's own build
<= 4 s). The CPU time is printed as well because on a shared machine other
processes stretch wall-clock time unevenly, and so is the load average before
and after.

    python bench/keras_build.py                  # 1202 layers, 3 repeats
    python bench/keras_build.py --depth 110 -r 5 # a quick turn
"""
from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time

import keras
from keras import layers, ops

import resdsl


def basic_block(x, filters, stride, name):
    """He et al.'s CIFAR basic block with the parameter-free option-A shortcut."""
    init = keras.initializers.VarianceScaling(2.0, "fan_out", "untruncated_normal")
    shortcut = x
    if stride != 1:
        y = layers.ZeroPadding2D(((1, 1), (1, 1)), name=name + ".conv1_pad")(x)
        y = layers.Conv2D(filters, 3, strides=stride, use_bias=False, kernel_initializer=init,
                          name=name + ".conv1")(y)
        in_ch = x.shape[-1]
        shortcut = layers.MaxPooling2D(1, strides=stride, name=name + ".downsample.0")(x)
        pad = (filters - in_ch) // 2
        shortcut = layers.Lambda(lambda t: ops.pad(t, [[0, 0], [0, 0], [0, 0], [pad, pad]]),
                                 name=name + ".downsample.1")(shortcut)
    else:
        y = layers.Conv2D(filters, 3, padding="same", use_bias=False, kernel_initializer=init,
                          name=name + ".conv1")(x)
    y = layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name=name + ".bn1")(y)
    y = layers.Activation("relu", name=name + ".act1")(y)
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False, kernel_initializer=init,
                      name=name + ".conv2")(y)
    y = layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name=name + ".bn2")(y)
    y = layers.Add(name=name + ".add")([y, shortcut])
    return layers.Activation("relu", name=name + ".act_out")(y)


def hand_written(n: int = 200):
    """The 6n + 2-layer CIFAR ResNet (n = 200: 1202 layers)."""
    inputs = keras.Input((32, 32, 3), name="input")
    x = layers.Conv2D(16, 3, padding="same", use_bias=False, name="conv1")(inputs)
    x = layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name="bn1")(x)
    x = layers.Activation("relu", name="relu")(x)
    for stage, filters in enumerate((16, 32, 64)):
        for i in range(n):
            stride = 2 if stage > 0 and i == 0 else 1
            x = basic_block(x, filters, stride, f"layer{stage + 1}.{i}")
    x = layers.GlobalAveragePooling2D(name="avgpool")(x)
    x = layers.Dense(10, name="fc")(x)
    return keras.Model(inputs, x, name=f"cifar_resnet{6 * n + 2}_hand_written")


def timed(fn) -> tuple[float, float, int]:
    """(wall s, CPU s, parameter count) of one build, from a clean session."""
    keras.backend.clear_session()
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    model = fn()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return wall, cpu, model.count_params()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--depth", type=int, default=1202, choices=(20, 32, 44, 56, 110, 1202))
    ap.add_argument("-r", "--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    spec, n = f"cifar_resnet{args.depth}", (args.depth - 2) // 6
    default = sys.getrecursionlimit()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (before)")
    # Warm up Keras/TensorFlow once so neither side pays first-use costs.
    resdsl.build("cifar_resnet20", backend="keras")
    hand_written(3)
    try:
        hand_written(n)
        print(f"hand-written functional code at the default recursion limit ({default}): built")
    except RecursionError:
        print(f"hand-written functional code at the default recursion limit ({default}): RecursionError")

    def ours():
        model = resdsl.build(spec, backend="keras")
        assert sys.getrecursionlimit() == default
        return model

    def hand():
        sys.setrecursionlimit(20_000)
        try:
            return hand_written(n)
        finally:
            sys.setrecursionlimit(default)

    runs: dict[str, list] = {"resdsl": [], "hand": []}
    for r in range(args.repeats):
        order = ("resdsl", "hand") if r % 2 == 0 else ("hand", "resdsl")
        for side in order:
            runs[side].append(timed(ours if side == "resdsl" else hand))
        print(f"  repeat {r + 1}: " + ", ".join(f"{s} {runs[s][-1][0]:.2f} s" for s in ("resdsl", "hand")))
    wall = {s: statistics.median(x[0] for x in v) for s, v in runs.items()}
    cpu = {s: statistics.median(x[1] for x in v) for s, v in runs.items()}
    params = {s: {x[2] for x in v} for s, v in runs.items()}
    print(f"resdsl.build({spec!r}, backend='keras'), default limit: {wall['resdsl']:6.2f} s wall, "
          f"{cpu['resdsl']:6.2f} s CPU  ({params['resdsl'].pop():,} params)")
    print(f"hand-written functional code, recursion limit 20000: {wall['hand']:6.2f} s wall, "
          f"{cpu['hand']:6.2f} s CPU  ({params['hand'].pop():,} params)")
    ratio = wall["resdsl"] / wall["hand"]
    print(f"ratio resdsl / hand-written (medians of {args.repeats}): {ratio:.2f} wall, "
          f"{cpu['resdsl'] / cpu['hand']:.2f} CPU  (target < 0.5)")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (after)")
    same = {x[2] for v in runs.values() for x in v}
    return 0 if len(same) == 1 and ratio < 0.5 else 1


if __name__ == "__main__":
    sys.exit(main())
