"""The PyTorch backend: `emit` writes the Python source of a module defining the
network (no torch import needed), and `build` executes that same source, so the
in-memory model and a `resdsl compile`d file cannot drift apart.
"""
from __future__ import annotations

from ...ir import Resolved
from ..codegen import CODE_LOCK
from ..resources import check_allocatable
from .emit import emit_source
from .portable import load_source


def emit(resolved: Resolved, fuse_bn: bool = False) -> str:
    """Source of a module that imports only torch and defines `build_model()`."""
    return emit_source(resolved, fuse_bn=fuse_bn)


def build(resolved: Resolved, fuse_bn: bool = False):
    """A torch.nn.Module for the network; with `fuse_bn`, BatchNorm is folded into
    the convs before it and the model is in eval mode (inference only)."""
    check_allocatable(resolved, "torch")  # a located error, not an allocator's, for weights that cannot fit
    with CODE_LOCK:  # generating and compiling, not building, is serial
        module = load_source(emit(resolved, fuse_bn=fuse_bn), resolved.name)
    return module.build_model()
