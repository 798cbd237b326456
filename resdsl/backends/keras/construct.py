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
  Keras' own switch, and on TensorFlow by assigning attributes directly. It checks each object afterwards:
  layers whose constructor did create something trackable (a `SeedGenerator`,
  as DropPath's does) are constructed again with tracking on, now and from
  then on.
- Signatures. `Operation.__new__` and `Layer.__init__` call
  `inspect.signature` on the class's `__init__` and `call` for every object,
  and `inspect` computes it afresh each time. A function's signature never
  changes, and `inspect` returns `function.__signature__` where it is set. So
  `untracked` works out the signature of each plain function (not a
  decorated one, whose signature depends on how it is unwrapped) once it has
  met the class, and sets it on the function while the constructors run: the
  second object of a class on is cheaper. It takes the signatures off again
  afterwards, since `functools.wraps` copies a function's attributes, so a
  wrapper of a bound method would report the unbound signature.

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
# the classes met, with their constructors' and calls' signatures.
_TRACKED: set = set()
_SIGNED: set[type] = set()
_SIGNATURES: dict = {}


def _learn_signatures(cls: type) -> None:
    for klass in cls.__mro__:
        for attr in ("__init__", "call"):
            fn = klass.__dict__.get(attr)
            if (inspect.isfunction(fn) and not hasattr(fn, "__wrapped__") and "__signature__" not in fn.__dict__
                    and fn not in _SIGNATURES):
                _SIGNATURES[fn] = inspect.signature(fn)
    _SIGNED.add(cls)


@contextlib.contextmanager
def _signatures_set():
    for fn, signature in _SIGNATURES.items():
        fn.__signature__ = signature
    try:
        yield
    finally:
        for fn in _SIGNATURES:
            del fn.__signature__


# What Keras' tracker registers, and values that can hold none of it.
_TRACKABLE = (keras.Variable, keras.layers.Layer, keras.metrics.Metric, keras.random.SeedGenerator)
_PLAIN = frozenset({str, int, float, bool, type(None)})


def _holds_trackable(layer) -> bool:
    """Whether the constructor stored a variable, layer, metric or seed
    generator, directly or in a list, tuple, set or dict: what Keras' tracker
    would have registered."""
    for value in vars(layer).values():
        if type(value) in _PLAIN:
            continue
        if isinstance(value, dict):
            value = list(value.values())
        if isinstance(value, _TRACKABLE) or (isinstance(value, (list, tuple, set))
                                             and any(isinstance(v, _TRACKABLE) for v in value)):
            return True
    return False


@contextlib.contextmanager
def _tracking_off():
    if keras.backend.backend() != "tensorflow":
        with _NoTracking():
            yield
        return
    # On TensorFlow, with tracking off, `Layer.__setattr__` and the
    # `AutoTrackable.__setattr__` below it come down to `object.__setattr__`
    # (Keras' tracker returns the value as it is; TensorFlow's would only skip
    # assigning a value an attribute already holds); calling it directly saves
    # their ~60 calls per layer. Unlike Keras' switch (per thread) this holds
    # process-wide while the constructors run: do not construct Keras layers
    # in another thread meanwhile. Assigning a class attribute invalidates
    # Python's attribute caches for every layer class, hence few, long
    # stretches (a block's layers at a time) rather than one per layer.
    base = keras.layers.Layer
    setattr_ = base.__dict__["__setattr__"]
    base.__setattr__ = object.__setattr__
    try:
        with _NoTracking():
            yield
    finally:
        base.__setattr__ = setattr_


def _make_all(make, items, key) -> list:
    made, i = [], 0
    while i < len(items):
        if _NoTracking is None or key(items[i]) in _TRACKED:
            made.append(make(items[i]))
            i += 1
            continue
        with _tracking_off(), _signatures_set():  # the run of items up to the next tracked one
            while i < len(items) and key(items[i]) not in _TRACKED:
                made.append(make(items[i]))
                i += 1
    return made


def untracked(make, items, key) -> list[list]:
    """`[make(item) for item in items]`, each a list of new Keras leaf layers,
    constructed with attribute tracking off (see the module docstring).
    `key(item)` names what `make` makes (an IR op). Where that made something
    trackable, the key's layers are constructed with tracking on from then on,
    and the whole list is made again."""
    # Constructors draw seeds from Python's generator (initialisers, seed
    # generators): made again from the same state, the layers draw the same
    # seeds, so a seeded build is the same whether or not a key was met before.
    state = random.getstate()
    made = _make_all(make, items, key)
    found = {key(item) for item, layers in zip(items, made)
             if key(item) not in _TRACKED and any(_holds_trackable(layer) for layer in layers)}
    if found:
        _TRACKED.update(found)
        random.setstate(state)
        made = _make_all(make, items, key)
    for layers in made:
        for layer in layers:
            if type(layer) not in _SIGNED:
                _learn_signatures(type(layer))
    return made
