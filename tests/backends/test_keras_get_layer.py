"""Flat access to the nested Keras build: `model.get_layer(IR name)` for every
IR node, layer by layer freezing, and feature sub-models by IR name."""
from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import resdsl
from resdsl.backends import keras as KB

# One of each block kind and shortcut, plus the user-block edge spec.
NAMES = ["cifar_resnet20", "resnet50v2", "resnet50_keras", "resnext50_32x4d"]


def _ir_names(r):
    return [n for n in r.graph if n != "input"]


@pytest.mark.parametrize("name", NAMES + ["edge"])
def test_get_layer_for_every_ir_name(name, resolve_small, edge_spec):
    r = resdsl.resolve(edge_spec) if name == "edge" else resolve_small(name, 32)
    model = resdsl.build(r, backend="keras")
    for n in _ir_names(r):
        layer = model.get_layer(n)
        assert layer.name.replace("\u2024", ".") == n
        # the layer holding that node's weights, not just one with its name (Keras counts BN statistics)
        assert layer.count_params() == r.node(n)["params"] + r.node(n)["buffers"], n
    for stage in r.stages:
        layer = model.get_layer(stage.name)
        assert type(layer).__name__ == "Stage"
        first_block = layer.layers[0].name
        assert layer.get_layer(first_block) is model.get_layer(first_block)
    assert model.get_layer(index=0).name == "input"  # Keras' own lookups still work


def test_unknown_name_suggests(resolve_small):
    model = resdsl.build(resolve_small("cifar_resnet20", 32), backend="keras")
    with pytest.raises(ValueError, match=r"No such layer: 'layer2\.0\.conv3'.*did you mean 'layer2\.0\.conv2'"):
        model.get_layer("layer2.0.conv3")
    with pytest.raises(ValueError, match="No such layer"):
        model.get_layer("layer1").get_layer("layer2.0.conv1")


def test_freeze_one_inner_layer(resolve_small):
    model = resdsl.build(resolve_small("cifar_resnet20", 32), backend="keras")
    before = len(model.trainable_weights)
    model.get_layer("layer2.0.conv1").trainable = False
    assert len(model.trainable_weights) == before - 1  # its kernel (bias-free conv)


def test_feature_model_by_ir_name(resolve_small):
    r = resolve_small("resnet50v2", 32)
    model = resdsl.build(r, backend="keras")
    x = np.random.default_rng(0).standard_normal((2, 32, 32, 3)).astype("float32")
    order = r.order()
    inner = next(n for n in order if r.graph.nodes[n].get("stage") == r.stages[1].name and "conv" in n)
    stage_out = [n for n in order if r.graph.nodes[n].get("stage") == r.stages[2].name][-1]
    features = KB.feature_model(model, r, ["conv1_conv", inner, r.stages[2].name])
    got = features(x, training=False)
    reference = KB.trace(model, r, x)  # layer by layer, eager
    for n, y in zip(["conv1_conv", inner, stage_out], got):
        np.testing.assert_allclose(np.asarray(y), np.asarray(reference[n]), rtol=1e-5, atol=1e-5)
    # A stage's output is also the top-level Stage layer's symbolic output.
    by_keras = keras.Model(model.input, model.get_layer(r.stages[2].name).output)
    np.testing.assert_allclose(np.asarray(by_keras(x, training=False)), np.asarray(got[2]), rtol=1e-5, atol=1e-5)
    assert len(features.weights) < len(model.weights)  # only what the deepest feature needs
    np.testing.assert_allclose(np.asarray(KB.feature_model(model, r, r.order()[-1])(x, training=False)),
                               np.asarray(model(x, training=False)), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="No such layer"):
        KB.feature_model(model, r, "layer9.0.conv1")
