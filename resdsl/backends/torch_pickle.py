"""Pickling of models that `resdsl.build` made in memory.

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


def restore(source: str, name: str, qualname: str):
    """An empty instance of class `qualname` of the module that `source` defines
    (pickle then calls its __setstate__ with the saved state)."""
    from .torch import load_source

    cls = getattr(load_source(source, name), qualname)
    return cls.__new__(cls)


def make_portable(module, source: str, name: str) -> None:
    """Lets every class defined in `module` pickle by its source text."""
    def reduce_ex(self, protocol):
        return restore, (source, name, type(self).__qualname__), self.__dict__

    for value in list(vars(module).values()):
        if isinstance(value, type) and value.__module__ == module.__name__ and "forward" in vars(value):
            value.__reduce_ex__ = reduce_ex
