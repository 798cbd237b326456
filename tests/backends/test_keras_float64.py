"""The Keras build is the torch build's function exactly, not to float32
rounding: both in float64, with the same (ported) weights and non-trivial
BatchNorm statistics, agree to 1e-10 relative on a 200-layer network. In
float32 the two differ by ~1e-6 relative on every depth (rounding, growing
slowly with depth; see docs/benchmarks.md, "Keras against torch on deep
networks"), which would hide a real difference as small as a BN eps off by a
few per cent; float64 does not hide it, as the second test shows."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
keras = pytest.importorskip("keras")

import resdsl

FLOAT64_RTOL = 1e-10  # float64 rounding through 200 layers is ~1e-15; a real difference is far above

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def float64_keras():
    """Keras layers made inside take float64 variables and compute in float64."""
    floatx, policy = keras.config.floatx(), keras.config.dtype_policy()
    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")
    yield
    keras.config.set_floatx(floatx)
    keras.config.set_dtype_policy(policy)


def _pair(r, randomise_norms):
    """A float64 torch model and the Keras model its weights were ported into."""
    tm = resdsl.build(r, backend="torch").eval()
    randomise_norms(tm)
    km = resdsl.build(r, backend="keras")
    assert all(w.dtype == "float64" for w in km.weights)
    resdsl.port_weights(tm, km)
    return tm.double(), km


def _relative(tm, km, r) -> float:
    x = np.random.default_rng(1).normal(size=(2, *r.input_shape))
    with torch.no_grad():
        yt = tm(torch.from_numpy(x)).numpy()
    yk = keras.ops.convert_to_numpy(km(x.transpose(0, 2, 3, 1), training=False))
    assert yk.dtype == np.float64
    return float(np.abs(yt - yk).max() / np.abs(yt).max())


def test_resnet200d_keras_equals_torch_in_float64(float64_keras, resolve_small, randomise_norms):
    """At 40×40 the maps go 10 -> 5 -> 3 -> 2: each stride-2 stage's average-pool
    shortcut (ceil_mode, count_include_pad=False) has a last, partial window."""
    r = resolve_small("resnet200d", 40)
    assert [r.node(f"{s}.0.downsample.0")["shape"][1:] for s in ("layer2", "layer3", "layer4")] == \
        [(5, 5), (3, 3), (2, 2)]
    tm, km = _pair(r, randomise_norms)
    assert _relative(tm, km, r) <= FLOAT64_RTOL


def test_float64_sees_a_difference_float32_rounding_would_hide(float64_keras, resolve_small, randomise_norms):
    """One BatchNorm's eps 2 % off in Keras (1.02e-5 for 1e-5): a real difference
    (~1e-7 relative) below float32's own rounding (~1e-6), which float64 shows."""
    r = resolve_small("resnet18d", 40)
    tm, km = _pair(r, randomise_norms)
    assert _relative(tm, km, r) <= FLOAT64_RTOL
    bn = next(layer for layer in km._flatten_layers() if isinstance(layer, keras.layers.BatchNormalization))
    bn.epsilon = 1.02e-5
    off = _relative(tm, km, r)
    assert FLOAT64_RTOL * 100 < off < 1e-6, off
