"""Keras leaf layers constructed with attribute tracking off
(backends/keras/construct.py) are the layers Keras would have made: each
model below is built twice, with the switch and without it, and every layer's
config, every weight's path, shape and order, the TensorFlow checkpoint and
the saved file agree. A layer whose constructor makes something trackable
(DropPath's seed generator) is still tracked."""
from __future__ import annotations

import functools
import inspect
import json
import zipfile

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import resdsl
from resdsl.backends.keras import construct, layer_map
from resdsl.backends.keras.layers import Block, Stage
from tests.helpers.specs import EDGE

DROP_PATH = resdsl.load_spec("resnet18").source.text.replace("defaults:", "drop_path_rate: 0.1\ndefaults:")


def _build_both(spec, monkeypatch):
    """The model built as usual, then built with Keras' tracking switch absent,
    both from one seed (initialisers draw theirs from Python's generator). The
    first build meets every op afresh, so a layer constructed twice (DropPath)
    must not shift the seeds that follow."""
    monkeypatch.setattr(construct, "_TRACKED", set())
    keras.utils.set_random_seed(0)
    fast = resdsl.build(spec, backend="keras")
    keras.utils.set_random_seed(0)
    with monkeypatch.context() as m:
        m.setattr(construct, "_NoTracking", None)
        plain = resdsl.build(spec, backend="keras")
    return fast, plain


def _saved_config(model, path) -> dict:
    """The saved file's config, less the ids of objects that it names shared
    (they are Python object ids, which differ from one model to the next)."""
    model.save(path)
    with zipfile.ZipFile(path) as z:
        return json.loads(z.read("config.json"), object_hook=lambda d: {k: v for k, v in d.items()
                                                                        if k != "shared_object_id"})


@pytest.mark.parametrize("spec", ["resnet50v2", "cifar_resnet20", EDGE, DROP_PATH],
                         ids=["resnet50v2", "cifar_resnet20", "edge", "drop_path"])
def test_layers_weights_and_saved_files_equal_untracked_construction(spec, monkeypatch, tmp_path):
    fast, plain = _build_both(spec, monkeypatch)
    ours, theirs = layer_map(fast), layer_map(plain)
    assert list(ours) == list(theirs)
    for name, layer in ours.items():
        assert type(layer) is type(theirs[name]), name
        assert layer.get_config() == theirs[name].get_config(), name
        assert [w.path for w in layer.weights] == [w.path for w in theirs[name].weights], name
    assert [(w.path, tuple(w.shape), w.trainable) for w in fast.weights] == \
           [(w.path, tuple(w.shape), w.trainable) for w in plain.weights]
    assert fast.count_params() == plain.count_params() > 0
    assert _saved_config(fast, tmp_path / "fast.keras") == _saved_config(plain, tmp_path / "plain.keras")
    for a, b in zip(fast.weights, plain.weights):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
    shape = [64 if d is None else d for d in fast.input_shape[1:]]  # any-size inputs at 64 x 64
    x = np.random.default_rng(0).random((2, *shape)).astype("float32")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(fast(x)), keras.ops.convert_to_numpy(plain(x)))


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="TensorFlow's own tracking")
def test_tensorflow_still_tracks_each_layers_variables(monkeypatch):
    """TensorFlow's checkpoints and SavedModel find a layer's variables through
    its tracked attributes: the same children, by name, for every leaf layer.
    (Keras 3 itself does not make the layers in a list attribute TensorFlow
    children, ours or a user's: a checkpoint of a model goes through
    model.save_weights, not tf.train.Checkpoint.)"""
    fast, plain = _build_both("resnet50v2", monkeypatch)
    ours, theirs = layer_map(fast), layer_map(plain)
    checked = 0
    for name, layer in ours.items():
        if isinstance(layer, (Block, Stage)) or not layer.weights:  # leaf layers with variables
            continue
        children = {k: type(v) for k, v in layer._trackable_children().items()}
        assert children == {k: type(v) for k, v in theirs[name]._trackable_children().items()}, name
        assert len([v for v in children.values() if issubclass(v, keras.Variable)]) == len(layer.weights), name
        checked += 1
    assert checked > 100


def test_a_constructor_that_makes_a_seed_generator_is_tracked():
    model = resdsl.build(DROP_PATH, backend="keras")
    drops = [layer for layer in layer_map(model).values() if type(layer).__name__ == "DropPath"]
    assert drops and "drop_path" in construct._TRACKED
    for layer in drops:
        assert layer.seed_generator in layer._seed_generators
        # The generator's state is a variable of the model, as Keras makes it.
        assert any(v is layer.seed_generator.state for v in model.non_trainable_variables)


def test_signatures_equal_fresh_ones_and_are_set_only_while_constructing():
    resdsl.build("cifar_resnet20", backend="keras")
    assert keras.layers.Conv2D in construct._SIGNED and keras.layers.BatchNormalization in construct._SIGNED
    assert len(construct._SIGNATURES) >= 4
    for fn, signature in construct._SIGNATURES.items():
        # Nothing is left on Keras' functions once the layers are made ...
        assert "__signature__" not in fn.__dict__, fn.__qualname__
        # ... and what is set meanwhile is what inspect works out.
        assert signature == inspect.signature(fn), fn.__qualname__
    # A wrapper of a bound method (functools.wraps copies the function's
    # attributes) reports the bound signature, as without resdsl.
    conv = keras.layers.Conv2D(4, 3)
    wrapper = functools.wraps(conv.call)(lambda *a, **k: conv.call(*a, **k))
    assert inspect.signature(wrapper) == inspect.signature(conv.call)
    assert "self" not in inspect.signature(wrapper).parameters


def test_importing_construct_first_registers_the_layers_without_a_warning():
    """Keras' import hook loads backends/keras/layers.py while construct.py is still
    importing Keras: layers must not need a name from construct at import."""
    import subprocess
    import sys

    code = "import resdsl.backends.keras.construct, keras; keras.saving.get_registered_object('resdsl>Block')"
    run = subprocess.run([sys.executable, "-W", "error::UserWarning", "-c",
                          code + " or (_ for _ in ()).throw(SystemExit('not registered'))"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "could not register" not in run.stderr
