"""Every use of Keras' or TensorFlow's private internals in the Keras backend,
in one place, behind `resdsl.fastpath.enabled()` (RESDSL_FASTPATH=0 turns it
off). `building()` is what `build` runs an emitted module's build_model() in;
with the switch off it does nothing, and the model is what Keras makes on its
own: tests/backends/test_keras_fastpath.py builds shipped specs both ways and
compares every layer's config, every weight, the saved file and the outputs;
bench/keras_fastpath.py measures what each piece saves (docs/benchmarks.md).

Each piece changes how fast, never what: the variables, their values and
their Keras paths, the layers and their configs are the same.
"""
from __future__ import annotations

import contextlib
import gc
import threading

import keras

from ...fastpath import enabled as switched_on

# The pieces, by name, in the order they are entered; bench/keras_fastpath.py
# turns them off one at a time.
PIECES: dict = {}


def piece(fn):
    PIECES[fn.__name__] = contextlib.contextmanager(fn)
    return PIECES[fn.__name__]


@piece
def variables():
    """TensorFlow variables created outside TensorFlow's name scopes.

    Keras opens a TensorFlow name scope per layer, so each variable's handle op
    carries a unique name (`layer2.0.conv1/kernel/`) as an attribute, and
    TensorFlow's eager kernel cache, keyed by attributes, misses for every
    variable: about half of a variable's creation time. Without the scope the
    names repeat (`kernel/`) and the cache hits. Keras names variables by their
    Keras path (`layer2.0.conv1/kernel`), from its own name-scope stack, which
    this leaves alone: saved files and weights are the same; only the
    TensorFlow-level name of the handle is shorter. (`tf.variable_creator_scope`
    is public TensorFlow, but relies on Keras creating its variables through
    tf.Variable, an internal of Keras' TensorFlow backend.)"""
    if keras.backend.backend() != "tensorflow":
        yield
        return
    import tensorflow as tf

    def creator(next_creator, **kwargs):
        with tf.name_scope(""):
            return next_creator(**kwargs)

    with tf.variable_creator_scope(creator):
        yield


# -- construction ----------------------------------------------------------------

# Values that Keras' tracker and TensorFlow's AutoTrackable store as they are.
_PLAIN = frozenset({str, int, float, bool, type(None)})


class _Swap:
    """Keras' own Layer.__setattr__ while `attributes` has replaced it, and how
    many builds use the replacement: concurrent builds (counted under the lock)
    install it once and restore it once. The replacement does what Keras does,
    faster, for every layer in the process, so a layer another thread makes
    meanwhile is the same."""

    lock = threading.Lock()
    users = 0
    tracked = None


def _setattr(self, name, value, _set=object.__setattr__, _plain=_PLAIN):
    if type(value) in _plain and "_tracker" in self.__dict__:
        _set(self, name, value)
    else:
        _Swap.tracked(self, name, value)


@piece
def attributes():
    """Plain values (str, int, float, bool, None) assigned to a Keras layer go
    straight into its __dict__: what Keras' tracker and, on TensorFlow,
    TensorFlow's AutoTrackable come down to for them, without the calls through
    both for each (a layer's constructor makes about 60 assignments). Lists,
    dicts, variables and sub-layers still go through Keras. TensorFlow only: on
    PyTorch a layer is also a torch Module, whose __setattr__ has rules of its own."""
    if keras.backend.backend() != "tensorflow":
        yield
        return
    with _Swap.lock:
        if not _Swap.users:
            _Swap.tracked = keras.layers.Layer.__dict__["__setattr__"]
            keras.layers.Layer.__setattr__ = _setattr
        _Swap.users += 1
    try:
        yield
    finally:
        with _Swap.lock:
            _Swap.users -= 1
            if not _Swap.users:
                keras.layers.Layer.__setattr__ = _Swap.tracked


@piece
def collector():
    """Python's cyclic garbage collector paused (if it was running): a deep model
    is millions of long-lived objects made in one go, and the collector's
    full passes traverse all of them only to free nothing."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def enabled(only=None) -> list[str]:
    """The pieces `building()` enters: all where the switch is on, or `only`."""
    if not switched_on():
        return []
    return list(PIECES) if only is None else [p for p in PIECES if p in only]


@contextlib.contextmanager
def building(only=None):
    """The fast paths for one build (all of them, or those named in `only`)."""
    with contextlib.ExitStack() as stack:
        for name in enabled(only):
            stack.enter_context(PIECES[name]())
        yield
