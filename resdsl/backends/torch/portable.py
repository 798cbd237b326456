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

import hashlib
import linecache
import sys
import types


def load_source(source: str, name: str) -> types.ModuleType:
    """Execute emitted source as a module, once per distinct source text.

    The module is registered in sys.modules under a name derived from the text, so
    rebuilding the same spec reuses its classes. They pickle by their source text
    (`torch.portable`): `torch.save(model)` loads in a fresh process and
    torch.multiprocessing.spawn works, as with torchvision's models. The text is
    registered with linecache so tracebacks and `inspect.getsource` show it.
    """
    digest = hashlib.sha256(source.encode("utf-8")).hexdigest()[:12]
    modname = f"resdsl_generated_{''.join(c if c.isalnum() else '_' for c in name)}_{digest}"
    module = sys.modules.get(modname)
    if module is not None:
        return module
    filename = f"<resdsl-torch {modname}>"
    module = types.ModuleType(modname)
    module.__file__ = filename
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    # Our own generated code: spec strings reach it only as escaped literals (torch.emit.doc_text).
    exec(compile(source, filename, "exec"), module.__dict__)  # noqa: S102
    make_portable(module, source, name)
    sys.modules[modname] = module
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
