"""Clear messages when a backend's framework is not installed.

The frameworks are optional extras, so a missing one is a setup question, not a
bug: the error says which extra to install instead of a bare ModuleNotFoundError
from deep inside a build.
"""
from __future__ import annotations

import importlib
import os

from ..errors import HintedError

# backend -> (module to import, the extra that installs it)
FRAMEWORKS = {"torch": ("torch", "torch"), "keras": ("keras", "keras")}


class MissingFramework(HintedError, ModuleNotFoundError):
    """A backend's framework (or Keras' own backend) is not installed; `what` is
    the problem and `hint` what to do (the CLI prints them apart). A
    ModuleNotFoundError, so code that guards an optional import catches it."""

    def __init__(self, what: str, hint: str, name: str | None):
        super().__init__(f"{what}: {hint}", hint)
        self.what, self.name = what, name


def require(backend: str) -> None:
    """Imports the framework `backend` builds with, or raises MissingFramework
    saying what to install."""
    module, extra = FRAMEWORKS[backend]
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name == module or (exc.name or "").startswith(module + "."):
            raise MissingFramework(f"the {backend} backend needs {module}, which is not installed",
                                   f"pip install 'resdsl[{extra}]'", module) from None
        if backend == "keras":  # keras is there, the framework it runs on is not
            engine = os.environ.get("KERAS_BACKEND", "tensorflow")
            missing = (exc.name or "?").partition(".")[0]
            raise MissingFramework(
                f"Keras is installed but its backend '{engine}' is not ({missing} is missing)",
                "pip install 'resdsl[keras-tf]' for TensorFlow, or set KERAS_BACKEND to an installed "
                "backend (torch, jax)", missing) from None
        raise
