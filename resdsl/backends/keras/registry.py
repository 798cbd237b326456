"""Registers resdsl's Keras layers as soon as Keras is imported, so that
`keras.saving.load_model("model.keras")` works after a plain `import resdsl`.

Keras finds a custom layer of a saved model only in its registry of
serializable objects (it imports modules named in the file only for its own
packages, and has no plug-in entry points), and `import resdsl` must not import
Keras (it pulls in TensorFlow: seconds). So `install()` registers at once where
Keras is already loaded, and otherwise waits for Keras' import with a one-shot
import hook (Python's public import protocol, no Keras internals): its loader
runs Keras' own loader, then `keras.layers` (whose decorators register the
layers). Nothing else about the import changes. Not a speed-up, so not behind
RESDSL_FASTPATH: loading a saved model needs it either way.
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings

LAYERS = "resdsl.backends.keras.layers"


def _register() -> None:
    try:
        importlib.import_module(LAYERS)
    except Exception as exc:  # a broken registration must not break `import keras`
        warnings.warn(f"resdsl could not register its Keras layers ({exc}); saved resdsl models will "
                      f"need `import {LAYERS}` before loading", stacklevel=2)


class _ThenRegister(importlib.abc.Loader):
    """Keras' own loader, then the registration (as importlib.util.LazyLoader
    wraps a loader): everything else is asked of Keras' loader."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        self.loader.exec_module(module)
        _register()

    def __getattr__(self, name):
        return getattr(self.loader, name)


class _WhenKerasLoads(importlib.abc.MetaPathFinder):
    """Finds nothing itself: on the import of `keras` it asks the other finders,
    and gives back their spec with a loader that registers after executing."""

    def find_spec(self, name, path=None, target=None):
        if name != "keras":
            return None
        _uninstall()
        spec = importlib.util.find_spec("keras")
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = _ThenRegister(spec.loader)
        return spec


def _uninstall() -> None:
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _WhenKerasLoads)]


def install() -> None:
    """Register now if Keras is loaded, else when it is; idempotent."""
    if sys.modules.get("keras") is not None:
        if LAYERS not in sys.modules:
            _register()
    elif not any(isinstance(f, _WhenKerasLoads) for f in sys.meta_path):
        sys.meta_path.insert(0, _WhenKerasLoads())
