"""The PyTorch backend: `emit` writes the Python source of a module defining the
network (no torch import needed), and `build` executes that same source, so the
in-memory model and a `resdsl compile`d file cannot drift apart.
"""
from __future__ import annotations

import linecache
import types

from ..ir import Resolved
from .torch_emit import emit_source


def emit(resolved: Resolved, fuse_bn: bool = False) -> str:
    """Source of a module that imports only torch and defines `build_model()`."""
    return emit_source(resolved, fuse_bn=fuse_bn)


def load_source(source: str, name: str) -> types.ModuleType:
    """Execute emitted source as a module. Its text is registered with linecache
    so tracebacks, `inspect.getsource` and torch.compile can show the lines."""
    filename = f"<resdsl-torch {name}>"
    module = types.ModuleType(f"resdsl_generated_{name}")
    module.__file__ = filename
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    # Our own generated code: spec strings reach it only as escaped literals (see torch_emit.doc_text).
    exec(compile(source, filename, "exec"), module.__dict__)  # noqa: S102
    return module


def build(resolved: Resolved, fuse_bn: bool = False):
    """A torch.nn.Module for the network; with `fuse_bn`, BatchNorm is folded into
    the convs before it and the model is in eval mode (inference only)."""
    return load_source(emit(resolved, fuse_bn=fuse_bn), resolved.name).build_model()
