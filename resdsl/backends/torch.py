"""The PyTorch backend: `emit` writes the Python source of a module defining the
network (no torch import needed), and `build` executes that same source, so the
in-memory model and a `resdsl compile`d file cannot drift apart.
"""
from __future__ import annotations

import hashlib
import linecache
import sys
import types

from ..ir import Resolved
from .torch_emit import emit_source
from .torch_pickle import make_portable


def emit(resolved: Resolved, fuse_bn: bool = False) -> str:
    """Source of a module that imports only torch and defines `build_model()`."""
    return emit_source(resolved, fuse_bn=fuse_bn)


def load_source(source: str, name: str) -> types.ModuleType:
    """Execute emitted source as a module, once per distinct source text.

    The module is registered in sys.modules under a name derived from the text, so
    rebuilding the same spec reuses its classes. They pickle by their source text
    (`torch_pickle`): `torch.save(model)` loads in a fresh process and
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
    # Our own generated code: spec strings reach it only as escaped literals (torch_emit.doc_text).
    exec(compile(source, filename, "exec"), module.__dict__)  # noqa: S102
    make_portable(module, source, name)
    sys.modules[modname] = module
    return module


def build(resolved: Resolved, fuse_bn: bool = False):
    """A torch.nn.Module for the network; with `fuse_bn`, BatchNorm is folded into
    the convs before it and the model is in eval mode (inference only)."""
    return load_source(emit(resolved, fuse_bn=fuse_bn), resolved.name).build_model()
