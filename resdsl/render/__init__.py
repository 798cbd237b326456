"""Draw a resolved network with Graphviz: `render(resolved, path, level=...)`.

IR -> view graph (model.py) -> DOT (dot.py) -> svg/png/pdf via the `dot`
program (output.py). Needs the `graphviz` Python package and, except for
`fmt="dot"`, the Graphviz programs; never a deep-learning framework.
"""
from __future__ import annotations

import os
import sys
import types
from pathlib import Path

from ..io import MARKER, atomic_write, check_target
from ..version import __version__
from .model import LEVELS, View, build_view, count_nodes
from .output import FORMATS, RenderError, run_dot, stamp, write_missing_dot

__all__ = ["FORMATS", "LEVELS", "RenderError", "View", "build_view", "render", "to_dot_source"]


def _comment(resolved, level: str) -> str:
    return (f"{MARKER} {__version__} from spec '{resolved.name}' ({level} level); "
            f"edit the spec and render again rather than editing this file")


def to_dot_source(resolved, level: str = "block", expand: bool = False, max_nodes: int = 2000) -> str:
    """The DOT text of a picture (no Graphviz program needed)."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}, got '{level}'")
    n = count_nodes(resolved, level, expand)
    if n > max_nodes:
        other = [lv for lv in LEVELS if lv != level]
        raise RenderError(
            f"the {level}-level view of '{resolved.name}' has {n:,} nodes, more than the limit of "
            f"{max_nodes:,}: Graphviz would take very long and nobody could read the result",
            f"draw it with --level {' or --level '.join(other)}"
            + (" (without --expand)" if expand else "") + f", or raise the limit with --max-nodes {n}")
    from .dot import to_dot
    return to_dot(build_view(resolved, level, expand), _comment(resolved, level)).source


def render(resolved, path: str | os.PathLike | None = None, level: str = "block", fmt: str = "svg",
           expand: bool = False, max_nodes: int = 2000, force: bool = False) -> Path:
    """Write a picture of `resolved` (a `resdsl.resolve` result) and return its path.

    path: default `<spec name>.<fmt>`; '-' writes to stdout. An existing file
    is overwritten only if resdsl wrote it (or `force`). Without Graphviz's
    `dot` program the DOT source is written next to `path` and RenderError says
    what to install.
    """
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {', '.join(FORMATS)}, got '{fmt}'")
    target = Path(path) if path is not None else Path(f"{resolved.name}.{fmt}")
    if str(path) != "-":
        check_target(path if path is not None else target, force)  # before the (slow) layout
    source = to_dot_source(resolved, level, expand, max_nodes)
    if fmt == "dot":
        return atomic_write(target, source, force=force)
    import graphviz
    try:
        data = run_dot(source, fmt)
    except graphviz.ExecutableNotFound:
        raise write_missing_dot(source, target, fmt, force) from None
    return atomic_write(target, stamp(data, fmt, _comment(resolved, level)), force=force)


class _CallableModule(types.ModuleType):
    """Importing this subpackage rebinds the attribute `resdsl.render` from the
    package's function to this module (the import system sets it). Making the
    module callable keeps the documented `resdsl.render(spec, path, level=...)`
    working whatever was imported first."""

    def __call__(self, spec, path=None, level: str = "block", **options) -> Path:
        from ..ir import resolve
        return render(resolve(spec), path, level=level, **options)


sys.modules[__name__].__class__ = _CallableModule
