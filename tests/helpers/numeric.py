"""Comparing a torch (NCHW) and a Keras (NHWC) result."""
from __future__ import annotations

import numpy as np


def relative(a, b) -> float:
    """The largest difference, relative to the largest value of `a`."""
    return float(np.abs(a - b).max() / max(np.abs(a).max(), 1e-12))


def nhwc(shape):
    """An IR (channels-first) shape as Keras gives it."""
    return tuple(shape[1:]) + tuple(shape[:1]) if len(shape) == 3 else tuple(shape)
