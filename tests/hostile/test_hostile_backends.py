"""Issue 21, class 10: whatever validates compiles in both backends. Random
valid specs, chains and graphs in the stem and head alike (hostile_gen), YAML
anchors and aliases included, build in PyTorch and Keras with the parameter
count resdsl predicts, and the same outputs once weights are ported."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import resdsl
from tests.hostile.hostile_gen import branchy_spec, dump, valid_spec

SLOW = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)


def _stage_channels(spec) -> int:
    """The channels the stages of `spec` end with (what its head reads)."""
    r = resdsl.resolve(dump({**spec, "head": []}))
    return r.output_shape[0]


def _both_backends(text: str, torch):
    keras = pytest.importorskip("keras")
    r = resdsl.resolve(text)
    tm = resdsl.build(r, backend="torch").eval()
    km = resdsl.build(r, backend="keras")
    assert sum(p.numel() for p in tm.parameters()) == r.params
    assert km.count_params() == r.params + r.buffers
    resdsl.port_weights(tm, km)
    c, h, w = r.input_shape
    x = np.random.default_rng(0).normal(size=(2, c, h, w)).astype("float32")
    with torch.no_grad():
        want = tm(torch.from_numpy(x)).numpy()
    got = keras.ops.convert_to_numpy(km(x.transpose(0, 2, 3, 1), training=False))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * max(1.0, float(np.abs(want).max())))


@settings(SLOW, max_examples=12)
@given(st.randoms(use_true_random=False))
def test_branchy_specs_compile_in_both_backends(torch, rnd):
    text = dump(branchy_spec(rnd, _stage_channels))
    assert "&id" in text and "*id" in text  # the reused layers are YAML anchors and aliases
    _both_backends(text, torch)


@settings(SLOW, max_examples=8)
@given(st.randoms(use_true_random=False))
def test_chain_specs_compile_in_both_backends(torch, rnd):
    _both_backends(dump(valid_spec(rnd)), torch)
