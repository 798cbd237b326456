"""In-memory modules from emitted source, and the pickling of their models.

Their classes live in a module executed from emitted source (`torch.load_source`),
which another process cannot import by name, so plain pickling by reference
fails there (`No module named 'resdsl_generated_...'`). Instead each such class
pickles as "the class `qualname` of this source text": the unpickling process
executes the same text (once; the same `resdsl_generated_...` name results)
and restores the object's state into an instance of the recreated class. The
source string is one object shared by every instance, so pickle stores it once.

A module written by `resdsl compile` is importable and pickles by reference, as
torchvision's models do; this is only for in-memory builds.
"""
from __future__ import annotations

import types

from ..codegen import load_source as load


def load_source(source: str, name: str) -> types.ModuleType:
    """Emitted source executed as a module, once per distinct source text
    (codegen.load_source). Rebuilding the same spec reuses its classes, which
    pickle by their source text: `torch.save(model)` loads in a fresh process
    and torch.multiprocessing.spawn works, as with torchvision's models.
    """
    module = load(source, name, "torch")
    if not getattr(module, "_resdsl_portable", False):
        make_portable(module, source, name)
        module._resdsl_portable = True
    return module


def restore(source: str, name: str, qualname: str):
    """An empty instance of class `qualname` of the module that `source` defines
    (pickle then calls its __setstate__ with the saved state)."""
    cls = getattr(load_source(source, name), qualname)
    return cls.__new__(cls)


def make_portable(module, source: str, name: str) -> None:
    """Lets every class defined in `module` pickle by its source text."""
    def reduce_ex(self, protocol):
        return restore, (source, name, type(self).__qualname__), self.__dict__

    for value in list(vars(module).values()):
        if isinstance(value, type) and value.__module__ == module.__name__ and "forward" in vars(value):
            value.__reduce_ex__ = reduce_ex
