"""resnet*_keras and resnet*v2 are keras.applications' ResNets: the same number
of weights, and with keras.applications' weights ported in (as a user would
port pretrained ones) the same outputs. 64x64 inputs keep the builds quick;
keras.applications accepts them with include_top when weights=None."""
from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import resdsl
from resdsl.backends import get_backend
from tests.helpers.norms import randomise_keras_norms

PAIRS = {
    "resnet50_keras": "ResNet50", "resnet101_keras": "ResNet101", "resnet152_keras": "ResNet152",
    "resnet50v2": "ResNet50V2", "resnet101v2": "ResNet101V2", "resnet152v2": "ResNet152V2",
}
SIZE = 64


# 101 and 152 are the 50's blocks repeated more often: slow.
@pytest.mark.parametrize("spec", [s if s.startswith("resnet50") else pytest.param(s, marks=pytest.mark.slow)
                                  for s in PAIRS])
def test_matches_keras_applications(spec, resolve_small):
    app = getattr(keras.applications, PAIRS[spec])(weights=None, input_shape=(SIZE, SIZE, 3))
    ours = get_backend("keras").build(resolve_small(spec, SIZE))
    assert ours.count_params() == app.count_params()
    assert len(ours.trainable_weights) == len(app.trainable_weights)
    randomise_keras_norms(app)
    resdsl.port_weights(app, ours)
    x = np.random.default_rng(1).normal(size=(2, SIZE, SIZE, 3)).astype("float32")
    want = keras.ops.convert_to_numpy(app(x, training=False))
    got = keras.ops.convert_to_numpy(ours(x, training=False))
    assert np.abs(want - got).max() <= 1e-4 * np.abs(want).max()
    # Not trivially equal: the prediction depends on the input.
    assert np.abs(want[0] - want[1]).max() > 1e-6
