"""Constructing many Keras leaf layers at less cost per layer.

A Keras layer's constructor costs about 0.4 ms, and cifar_resnet1202 has
4,800 layers. Two things take most of that time. Neither does anything
for a leaf layer (a Conv2D, a BatchNormalization) while it is constructed:

- Attribute tracking. Each of the ~25 attributes a constructor sets passes
  through Keras' tracker, and on TensorFlow also through TensorFlow's
  `AutoTrackable`. They look for variables, sub-layers, metrics and seed
  generators to register, and wrap lists and dicts so that later additions
  are seen too. A leaf layer makes its variables in `build()`, and `build()`
  registers them itself (`add_weight`). So nothing in its constructor needs
  tracking. `untracked` turns tracking off for the constructors only, with
  Keras' own switch and TensorFlow's flag. It checks each object afterwards:
  layers whose constructor did create something trackable (a `SeedGenerator`,
  as DropPath's does) are constructed again with tracking on, now and from
  then on.
- Signatures. `Operation.__new__` and `Layer.__init__` call
  `inspect.signature` on the class's `__init__` and `call` for every object,
  and `inspect` computes it afresh each time. A function's signature never
  changes, and `inspect` returns `function.__signature__` where it is set. So
  `untracked` stores the signature on each plain function (not a decorated
  one, whose signature depends on how it is unwrapped) once it has met the
  class: the second object of a class on is cheaper.

Building (variables) and calling are untouched, and the layers are the same
objects Keras would make: their configs, weights and saved files are equal
(tests/backends/test_keras_construct.py).
"""
from __future__ import annotations

import contextlib
import inspect
import random

import keras

try:  # Keras' switch for attribute tracking (keras.src is Keras' implementation package)
    from keras.src.utils.tracking import DotNotTrackScope as _NoTracking
except ImportError:  # another Keras: construct as usual
    _NoTracking = None

# Keys (IR ops) whose layers' constructors create something trackable, and
# classes whose signatures are stored.
_TRACKED: set = set()
_SIGNED: set[type] = set()


def _store_signatures(cls: type) -> None:
    for klass in cls.__mro__:
        for attr in ("__init__", "call"):
            fn = klass.__dict__.get(attr)
            if inspect.isfunction(fn) and not hasattr(fn, "__wrapped__") and "__signature__" not in fn.__dict__:
                fn.__signature__ = inspect.signature(fn)
    _SIGNED.add(cls)


def _holds_trackable(layer) -> bool:
    """Whether the constructor stored a variable, layer, metric or seed
    generator, directly or in a list, tuple, set or dict: what Keras' tracker
    would have registered."""
    kinds = (keras.Variable, keras.layers.Layer, keras.metrics.Metric, keras.random.SeedGenerator)
    for value in vars(layer).values():
        if isinstance(value, dict):
            value = list(value.values())
        if isinstance(value, kinds) or (isinstance(value, (list, tuple, set))
                                        and any(isinstance(v, kinds) for v in value)):
            return True
    return False


@contextlib.contextmanager
def _tracking_off():
    on_tf = keras.backend.backend() == "tensorflow"
    base = keras.layers.Layer
    if on_tf:  # TensorFlow's AutoTrackable reads this flag (instance, else class) before tracking
        base._self_setattr_tracking = False
    try:
        with _NoTracking():
            yield
    finally:
        if on_tf:
            del base._self_setattr_tracking


def untracked(make, *args, key):
    """`make(*args)`, a list of new Keras leaf layers, constructed with attribute
    tracking off (see the module docstring). `key` names what `make` makes (an
    IR op): where it made something trackable, it runs again with tracking on,
    now and for that key from then on."""
    if _NoTracking is None or key in _TRACKED:
        layers = make(*args)
    else:
        # Constructors draw seeds from Python's generator (initialisers, seed
        # generators): one that runs again draws the same ones, so a seeded
        # build is the same whether or not this key was met before.
        state = random.getstate()
        with _tracking_off():
            layers = make(*args)
        for layer in layers:
            # Keras may have copied the flag onto the instance while setting up
            # its tracker; from here on the layer tracks as usual (build()
            # assigns its variables).
            layer.__dict__.pop("_self_setattr_tracking", None)
        if any(_holds_trackable(layer) for layer in layers):
            _TRACKED.add(key)
            random.setstate(state)
            layers = make(*args)
    for layer in layers:
        if type(layer) not in _SIGNED:
            _store_signatures(type(layer))
    return layers
