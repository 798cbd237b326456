"""The shape-resolved graph IR. Never imports torch, keras or graphviz."""
from __future__ import annotations

import gc
from contextlib import contextmanager

from ..spec.load import LoadedSpec, load_spec
from .graph import BlockInfo, Resolved, StageInfo
from .lowering import lower
from .ops import OPS, fmt
from .passes import PASSES, run_passes

__all__ = ["resolve", "Resolved", "BlockInfo", "StageInfo", "OPS", "PASSES", "fmt"]


@contextmanager
def _gc_paused():
    """Resolving allocates many small dicts and no cycles worth collecting; the
    cyclic GC would rescan them all repeatedly and make deep nets superlinear."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def resolve(spec: "LoadedSpec | Resolved | str") -> Resolved:
    """Lower a spec (object, path, shipped name or YAML text) and run every pass.
    An already resolved network is returned as is."""
    if isinstance(spec, Resolved):
        return spec
    spec = load_spec(spec)
    with _gc_paused():
        g, out, blocks, stages = lower(spec)
        g = run_passes(g, spec.source.text)
    m = spec.model
    return Resolved(g, m.name, m.description, (m.input.channels, m.input.height, m.input.width),
                    out, blocks, stages, spec)
