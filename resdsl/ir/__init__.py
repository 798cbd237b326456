"""The shape-resolved graph IR. Never imports torch, keras or graphviz."""
from __future__ import annotations

import gc
from contextlib import contextmanager
from functools import partial

from ..errors import SpecError
from ..spec.load import LoadedSpec, load_spec
from .graph import INPUT, SHORTCUT, BlockDef, BlockInfo, Resolved, Run, StageInfo, TemplateNode
from .lowering import lower
from .ops import OPS, fmt
from .passes import PASSES, run_passes

__all__ = ["resolve", "Resolved", "BlockInfo", "StageInfo", "BlockDef", "Run", "TemplateNode", "INPUT", "SHORTCUT",
           "OPS", "PASSES", "fmt"]


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


def _assemble(g, blocks, stages, recordings):
    # Imported here: `resdsl validate` never assembles the definitions.
    from .templates import assemble
    with _gc_paused():
        return assemble(g, blocks, stages, recordings)


def _with_all_sources(exc: SpecError, spec: LoadedSpec) -> SpecError:
    """Lowering passes the child's text for every span; a span in a parent spec
    (`extends:`) or an override needs that file's text to show its caret."""
    texts = spec.source.sources()
    for d in exc.diagnostics:
        if d.span.file in texts:
            exc.sources[d.span.file] = texts[d.span.file]
    exc.args = (exc.render(color=False),)
    return exc


def resolve(spec: "LoadedSpec | Resolved | str", **overrides) -> Resolved:
    """Lower a spec (object, path, shipped name or YAML text) and run every pass.
    An already resolved network is returned as is. `overrides` are those of
    `load_spec`: `sets=["input.channels=1"]`, `num_classes=5`, `in_channels=1`,
    `input_size=(160, 160)`, `include_top=False`, `pooling="avg"`."""
    if isinstance(spec, Resolved):
        if any(v is not None and not (isinstance(v, (list, tuple)) and not v) for v in overrides.values()):
            if spec.spec is None:
                raise ValueError("this network has no spec to apply overrides to")
            return resolve(spec.spec, **overrides)
        return spec
    spec = load_spec(spec, **overrides)
    try:
        with _gc_paused():
            g, _, blocks, stages, recordings = lower(spec)
            g = run_passes(g, spec.source.text)
    except SpecError as exc:
        raise _with_all_sources(exc, spec) from None
    except RecursionError:  # a backstop: the limits keep every recursion far inside the stack
        raise spec.error((), "too-deep", "the network is nested too deeply to lower",
                         "lower --limit max_block_nesting or max_depth") from None
    m = spec.model
    outputs = g.graph["outputs"]
    return Resolved(g, m.name, m.description, (m.input.channels, m.input.height, m.input.width),
                    outputs[-1], blocks, stages, spec, {}, list(outputs), list(g.graph["output_names"]),
                    m.outputs is not None, partial(_assemble, g, blocks, stages, recordings))
