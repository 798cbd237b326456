"""How long building cifar_resnet1202 (He et al.'s 1202-layer CIFAR ResNet) takes
in Keras: hand-written functional code, as the articles write it, against
`resdsl.build("cifar_resnet1202", backend="keras")`, side by side in one process.

Hand-written functional Keras recurses once per layer while wiring the graph,
so at Python's default recursion limit it fails with RecursionError; it is
timed again with a raised limit. resdsl builds at the default limit.

    python bench/keras_build.py          # prints both times and the ratio (target < 0.5)
"""
from __future__ import annotations

import gc
import sys
import time

import keras
from keras import layers, ops

import resdsl

N = 200  # blocks per stage: 6n + 2 = 1202 layers


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


def hand_written():
    inputs = keras.Input((32, 32, 3), name="input")
    x = layers.Conv2D(16, 3, padding="same", use_bias=False, name="conv1")(inputs)
    x = layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name="bn1")(x)
    x = layers.Activation("relu", name="relu")(x)
    for stage, filters in enumerate((16, 32, 64)):
        for i in range(N):
            stride = 2 if stage > 0 and i == 0 else 1
            x = basic_block(x, filters, stride, f"layer{stage + 1}.{i}")
    x = layers.GlobalAveragePooling2D(name="avgpool")(x)
    x = layers.Dense(10, name="fc")(x)
    return keras.Model(inputs, x, name="cifar_resnet1202_hand_written")


def timed(fn):
    gc.collect()
    t = time.perf_counter()
    model = fn()
    return time.perf_counter() - t, model


def main() -> int:
    default = sys.getrecursionlimit()
    # Warm up Keras/TensorFlow once so neither side pays first-use costs.
    resdsl.build("cifar_resnet20", backend="keras")
    try:
        hand_written()
        print(f"hand-written functional code at the default recursion limit ({default}): built (unexpected)")
    except RecursionError:
        print(f"hand-written functional code at the default recursion limit ({default}): RecursionError")
    keras.backend.clear_session()
    t_ours, ours = timed(lambda: resdsl.build("cifar_resnet1202", backend="keras"))
    assert sys.getrecursionlimit() == default
    n_ours = ours.count_params()
    del ours
    keras.backend.clear_session()
    sys.setrecursionlimit(20_000)
    try:
        t_hand, hand = timed(hand_written)
    finally:
        sys.setrecursionlimit(default)
    n_hand = hand.count_params()
    print(f"resdsl.build(cifar_resnet1202, backend='keras'), default limit: {t_ours:6.2f} s  ({n_ours:,} params)")
    print(f"hand-written functional code, recursion limit 20000:       {t_hand:6.2f} s  ({n_hand:,} params)")
    print(f"ratio resdsl / hand-written: {t_ours / t_hand:.2f}  (target < 0.5)")
    return 0 if n_ours == n_hand and t_ours / t_hand < 0.5 else 1


if __name__ == "__main__":
    sys.exit(main())
