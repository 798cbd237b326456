"""The Keras build's fast paths (backends/keras/fastpath.py) change how fast,
never what: each spec below is built with them and with RESDSL_FASTPATH=0 (the
reference: the emitted module's build_model() as Keras runs it on its own),
from one seed, and every layer's config, every weight (path, shape, order and
value), the saved file and the outputs agree; Keras is left as it was after a
build, also after a failed one and after builds in two threads at once."""
from __future__ import annotations

import json
import threading
import zipfile

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import resdsl
from resdsl.backends.keras import fastpath, layer_map

DROP_PATH = "extends: resnet18\nname: resnet18_drop_path\ndrop_path_rate: 0.1\n"
SPECS = {"cifar_resnet20": "cifar_resnet20", "resnet50v2": "resnet50v2", "drop_path": DROP_PATH,
         "seresnet50": "seresnet50", "ecaresnet50d": "ecaresnet50d"}


def _build(spec, monkeypatch, on: bool):
    monkeypatch.setenv("RESDSL_FASTPATH", "1" if on else "0")
    keras.utils.set_random_seed(0)
    return resdsl.build(spec, backend="keras")


def _saved(model, path) -> tuple[dict, list]:
    """The saved file's config, less the ids of objects it names shared (Python
    object ids, which differ from one model to the next), and its weights as
    loaded back."""
    model.save(path)
    with zipfile.ZipFile(path) as z:
        config = json.loads(z.read("config.json"), object_hook=lambda d: {k: v for k, v in d.items()
                                                                          if k != "shared_object_id"})
    return config, keras.saving.load_model(path).get_weights()


# seresnet50 and ecaresnet50d add gates to what resnet50v2 checks: slow (the full run has them).
@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in ("seresnet50", "ecaresnet50d")
                                  else n for n in SPECS])
def test_the_plain_path_builds_the_same_model(name, monkeypatch, tmp_path, resolve_small):
    spec = SPECS[name]
    if name in ("resnet50v2", "seresnet50", "ecaresnet50d"):  # the same layers at 64 x 64: a quicker build
        spec = resolve_small(name, 64)
    fast, plain = _build(spec, monkeypatch, True), _build(spec, monkeypatch, False)
    ours, theirs = layer_map(fast), layer_map(plain)
    assert list(ours) == list(theirs) and len(ours) > 20
    for n, layer in ours.items():
        assert type(layer) is type(theirs[n]), n
        assert layer.get_config() == theirs[n].get_config(), n
    assert [(w.path, tuple(w.shape), w.trainable) for w in fast.weights] == \
           [(w.path, tuple(w.shape), w.trainable) for w in plain.weights]
    for a, b in zip(fast.weights, plain.weights, strict=True):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b), err_msg=a.path)
    (config, weights), (config0, weights0) = _saved(fast, tmp_path / "f.keras"), _saved(plain, tmp_path / "p.keras")
    assert config == config0
    for a, b in zip(weights, weights0, strict=True):
        np.testing.assert_array_equal(a, b)
    shape = [64 if d is None else d for d in fast.input_shape[1:]]  # any-size inputs at 64 x 64
    x = np.random.default_rng(0).random((2, *shape)).astype("float32")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(fast(x)), keras.ops.convert_to_numpy(plain(x)))
    if name == "drop_path":  # DropPath's seed generator is tracked: its state is a variable of the model
        drops = [layer for layer in ours.values() if type(layer).__name__ == "DropPath"]
        assert drops and all(any(v is d.seed_generator.state for v in fast.non_trainable_variables) for d in drops)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="TensorFlow's own tracking")
def test_tensorflow_tracks_the_same_children(monkeypatch):
    """TensorFlow's checkpoints and SavedModel find a layer's variables through
    its tracked attributes: the same children, by name, for every leaf layer."""
    fast, plain = _build("cifar_resnet20", monkeypatch, True), _build("cifar_resnet20", monkeypatch, False)
    theirs, checked = layer_map(plain), 0
    for name, layer in layer_map(fast).items():
        children = {k: type(v) for k, v in layer._trackable_children().items()}
        assert children == {k: type(v) for k, v in theirs[name]._trackable_children().items()}, name
        checked += bool(layer.weights)
    assert checked >= 39  # 19 convs, 19 norms, fc


def _keras_as_it_was(setattr_) -> None:
    assert keras.layers.Layer.__dict__["__setattr__"] is setattr_


def test_keras_is_left_as_it_was(monkeypatch):
    setattr_ = keras.layers.Layer.__dict__["__setattr__"]
    monkeypatch.setenv("RESDSL_FASTPATH", "1")
    resdsl.build("cifar_resnet20", backend="keras")
    _keras_as_it_was(setattr_)
    with pytest.raises(RuntimeError, match="boom"), fastpath.building():  # a build that fails
        assert keras.layers.Layer.__dict__["__setattr__"] is not setattr_
        raise RuntimeError("boom")
    _keras_as_it_was(setattr_)


def test_builds_in_two_threads(monkeypatch):
    """Two builds at once install the fast paths once and take them off once."""
    setattr_ = keras.layers.Layer.__dict__["__setattr__"]
    monkeypatch.setenv("RESDSL_FASTPATH", "1")
    models, errors = [], []

    def build():
        try:
            models.append(resdsl.build("cifar_resnet20", backend="keras"))
        except Exception as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)
    threads = [threading.Thread(target=build) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(models) == 2
    r = resdsl.resolve("cifar_resnet20")
    assert all(m.count_params() == r.params + r.buffers for m in models)
    _keras_as_it_was(setattr_)


def test_the_switch_turns_every_piece_off(monkeypatch):
    monkeypatch.setenv("RESDSL_FASTPATH", "0")
    assert fastpath.enabled() == []
    monkeypatch.setenv("RESDSL_FASTPATH", "1")
    assert fastpath.enabled() == list(fastpath.PIECES) and len(fastpath.PIECES) >= 2
