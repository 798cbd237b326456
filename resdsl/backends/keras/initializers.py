"""Initial weights for the Keras backend, drawn with numpy.

Keras' own random initializers run half a dozen TensorFlow eager ops per
variable (seed casts, a key/counter op, the random op, a scale and a shift); for the
~1,200 kernels of cifar_resnet1202 that is a noticeable share of the build.
`Draw` gives the same distributions as the Keras initializers the IR's `init`
names correspond to, with one vectorised numpy draw per variable; the array
becomes the variable's initial value directly.

Seeding follows Keras: an unseeded initializer picks its seed from Python's
`random` when it is created (as `keras.initializers.*` do), so
`keras.utils.set_random_seed` makes builds reproducible, and the seed is part
of the saved config.
"""
from __future__ import annotations

import functools
import math
import random

import keras
import numpy as np

from .rules import KERNEL_INIT, bias_bound

PACKAGE = "resdsl"

# Keras' truncated normal keeps draws within two standard deviations and
# rescales so the truncated distribution has the requested deviation.
_TRUNCATED_STD = 0.87962566103423978


def fans(shape) -> tuple[int, int]:
    """(fan_in, fan_out) of a Keras kernel: (in, out) for dense, (kh, kw, in, out) for conv."""
    if len(shape) < 2:
        n = shape[0] if shape else 1
        return n, n
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


@keras.saving.register_keras_serializable(package=PACKAGE)
class Draw(keras.initializers.Initializer):
    """`init`: an IR kernel init (see rules.KERNEL_INIT, whose VarianceScaling
    arguments this follows), or 'uniform' with `bound` for U(-bound, bound)
    (PyTorch's default bias)."""

    def __init__(self, init: str, bound: float | None = None, seed: int | None = None):
        if init != "uniform" and init not in KERNEL_INIT:
            raise ValueError(f"resdsl keras: unknown init '{init}'")
        self.init, self.bound = init, bound
        self.seed = random.randint(1, 10**9) if seed is None else int(seed)

    def __call__(self, shape, dtype=None):
        shape = tuple(int(d) for d in shape)
        rng = np.random.default_rng(self.seed)
        if self.init == "uniform":
            scale, dist = float(self.bound), "uniform"
        else:
            factor, mode, dist = KERNEL_INIT[self.init]
            fan_in, fan_out = fans(shape)
            n = {"fan_in": fan_in, "fan_out": fan_out}.get(mode, (fan_in + fan_out) / 2)
            # A uniform U(-l, l) has variance l^2/3.
            scale = math.sqrt(3 * factor / n) if dist == "uniform" else math.sqrt(factor / n)
        if dist == "uniform":
            values = rng.random(shape, dtype=np.float32)
            values = (values * 2 - 1) * np.float32(scale)
        else:  # untruncated_normal or truncated_normal
            values = rng.standard_normal(shape, dtype=np.float32)
            if dist == "truncated_normal":
                scale /= _TRUNCATED_STD
                out = np.abs(values) > 2
                while out.any():
                    values[out] = rng.standard_normal(int(out.sum()), dtype=np.float32)
                    out = np.abs(values) > 2
            values *= np.float32(scale)
        return _as(values, dtype)

    def get_config(self):
        return {"init": self.init, "bound": self.bound, "seed": self.seed}


@keras.saving.register_keras_serializable(package=PACKAGE)
class Fill(keras.initializers.Initializer):
    """A constant (BatchNorm's ones and zeros) without an op per variable:
    Keras' Zeros and Ones run a TensorFlow fill op per variable, four per
    BatchNorm. On TensorFlow the value is one cached tensor per shape, value
    and dtype: a variable made from a tensor skips converting a fresh numpy
    array inside TensorFlow's variable constructor (a fifth of its time), and
    copies the value into a buffer of its own, since TensorFlow does not take
    over a buffer that is still referenced."""

    def __init__(self, value: float):
        self.value = float(value)

    def __call__(self, shape, dtype=None):
        shape, dtype = tuple(int(d) for d in shape), keras.backend.standardize_dtype(dtype)
        if keras.backend.backend() == "tensorflow":
            return _constant(shape, self.value, dtype)
        return _as(np.full(shape, self.value, np.float32), dtype)

    def get_config(self):
        return {"value": self.value}


@functools.lru_cache(maxsize=256)
def _constant(shape: tuple, value: float, dtype: str):
    import tensorflow as tf

    # Eager (never a tensor of a tf.function being traced) and in host memory,
    # as the numpy array it replaces would be.
    with tf.init_scope(), tf.device("CPU:0"):
        return tf.constant(_as(np.full(shape, value, np.float32), dtype))


def _as(values: np.ndarray, dtype):
    dtype = keras.backend.standardize_dtype(dtype)
    if dtype in ("float32", "float16", "float64"):
        return values.astype(dtype, copy=False)
    return keras.ops.cast(values, dtype)  # e.g. bfloat16, which numpy lacks


def norm(gamma_init: str) -> dict:
    """BatchNormalization's four initializers; `gamma_init` is 'ones' or 'zeros'."""
    one, zero = Fill(1.0), Fill(0.0)
    return {"gamma_initializer": one if gamma_init == "ones" else zero, "beta_initializer": zero,
            "moving_mean_initializer": zero, "moving_variance_initializer": one}


def kernel(init: str) -> Draw:
    return Draw(init)


def bias(init: str, fan_in: int):
    """U(-bound, bound) where the init draws biases (rules.bias_bound), else zeros."""
    bound = bias_bound(init, fan_in)
    return "zeros" if bound is None else Draw("uniform", bound=bound)
