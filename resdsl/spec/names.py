"""The names a spec gives its layers and stages, checked where they are written:
names the backends cannot build (resdsl.vocab's one list), `x`, a parameter
called `in`, and layers named by an index outside a custom shortcut.

A backend would refuse most of these only at build or compile time, after
`validate` said ok; here they are located errors of `validate`. Like the other
whole-spec checks this reads the plain data, so it also runs where pydantic has
found problems elsewhere; values of the wrong type are left to pydantic.
"""
from __future__ import annotations

import re
from typing import Iterator

from ..errors import Diagnostic
from ..vocab import reserved_why
from .layers import BLOCK_INPUT, LAYER_PATH
from .sourcemap import SourceMap

# Where a name sits: a stage's, a layer's, a custom shortcut's layer's, or the
# shortcut's own (its layers' prefix).
STAGE, LAYER, SHORTCUT_LAYER, SHORTCUT_NAME = "stage", "layer", "shortcut layer", "shortcut"


def _items(data: dict, path: tuple) -> Iterator[tuple[tuple, dict]]:
    """(path, params) of each layer of the list at `path` that has parameters."""
    items = data
    for key in path:
        items = items.get(key) if isinstance(items, dict) else None
    for i, item in enumerate(items if isinstance(items, list) else []):
        if isinstance(item, dict) and len(item) == 1:
            op, params = next(iter(item.items()))
            if isinstance(params, dict):
                yield path + (i, op), params


def _layer_names(data: dict, path: tuple, kind: str) -> Iterator[tuple[tuple, object, str]]:
    for where, params in _items(data, path):
        if "name" in params:
            yield where + ("name",), params["name"], kind


def named(data: dict) -> Iterator[tuple[tuple, object, str]]:
    """(path of the value, the name, where it sits) of every name the spec writes."""
    stages = data.get("stages")
    for i, stage in enumerate(stages if isinstance(stages, list) else []):
        if isinstance(stage, dict):
            if "name" in stage:
                yield ("stages", i, "name"), stage["name"], STAGE
            attention = stage.get("attention")
            for kind, params in (attention.items() if isinstance(attention, dict) else ()):
                if isinstance(params, dict) and "name" in params:
                    yield ("stages", i, "attention", kind, "name"), params["name"], LAYER
    for part in ("stem", "head"):
        yield from _layer_names(data, (part,), LAYER)
    blocks = data.get("blocks")
    for bname, block in (blocks.items() if isinstance(blocks, dict) else ()):
        if not isinstance(block, dict):
            continue
        for part in ("main", "after"):
            yield from _layer_names(data, ("blocks", bname, part), LAYER)
        sc = block.get("shortcut")
        if isinstance(sc, dict):
            if "name" in sc:
                yield ("blocks", bname, "shortcut", "name"), sc["name"], SHORTCUT_NAME
            yield from _layer_names(data, ("blocks", bname, "shortcut", "layers"), SHORTCUT_LAYER)
        elif isinstance(sc, list):
            yield from _layer_names(data, ("blocks", bname, "shortcut"), SHORTCUT_LAYER)


def _text(name) -> str | None:
    if type(name) is int and name >= 0:
        return str(name)
    return name if isinstance(name, str) else None


def check_names(data: dict, smap: SourceMap) -> list[Diagnostic]:
    diags = []
    for path, value, kind in named(data):
        name = _text(value)
        if not name:
            continue
        span = smap.span(path)
        parts = name.split(".")
        why = next(((p, w) for p in parts if (w := reserved_why(p))), None)
        if why and why[0].isidentifier():  # a part that is no identifier breaks the name's pattern, said there
            part, reason = why
            diags.append(Diagnostic("reserved-name", f"{kind} name '{name}': '{part}' cannot be a name: {reason}",
                                    span, "give it another `name`"))
        elif parts[0].isdigit() and kind != SHORTCUT_LAYER:
            diags.append(Diagnostic("bad-name", f"{kind} name '{name}' starts with an index: only a custom "
                                                "shortcut's layers are named by index (`0` is `downsample.0`)",
                                    span, "start the name with an identifier, such as `conv1.0`"))
    diags += _shortcut_indices(data, smap) + _params(data, smap)
    return diags


def _shortcut_indices(data: dict, smap: SourceMap) -> list[Diagnostic]:
    """A shortcut's layers named by index are its Sequential's members: all of them,
    numbered 0, 1, ... in order (a layer without a name is named after its kind)."""
    diags = []
    blocks = data.get("blocks")
    for bname, block in (blocks.items() if isinstance(blocks, dict) else ()):
        sc = block.get("shortcut") if isinstance(block, dict) else None
        path = ("blocks", bname, "shortcut") + (("layers",) if isinstance(sc, dict) else ())
        layers = sc.get("layers") if isinstance(sc, dict) else sc
        if not isinstance(layers, list):
            continue
        firsts, where = [], []  # each layer's first name part (None: unnamed), and where it is
        for i, item in enumerate(layers):
            op, params = next(iter(item.items())) if isinstance(item, dict) and len(item) == 1 else (None, None)
            name = _text(params.get("name")) if isinstance(params, dict) else None
            if name is not None and not re.match(LAYER_PATH, name):
                break  # a malformed name: pydantic says so
            firsts.append(name.split(".")[0] if name else None)
            where.append(path + (i, op, "name") if name else path + (i,))
        else:
            if any(f is not None and f.isdigit() for f in firsts):
                diags += _out_of_order(firsts, where, smap)
    return diags


def _out_of_order(firsts: list, where: list, smap: SourceMap) -> list[Diagnostic]:
    expected = 0
    for i, first in enumerate(firsts):
        if first is not None and first.isdigit() and int(first) in (expected, expected - 1):
            expected = int(first) + 1
            continue
        msg = (f"the shortcut's layer {i} is named '{first}', but the next index is {expected}"
               if first is not None and first.isdigit() else
               f"the shortcut's layer {i} has no index name, but others have one")
        return [Diagnostic("bad-name", msg, smap.span(where[i]),
                           "name every layer of the shortcut by index, 0, 1, ... in order "
                           "(torchvision's downsample.0, downsample.1)")]
    return []


def _params(data: dict, smap: SourceMap) -> list[Diagnostic]:
    blocks = data.get("blocks")
    diags = []
    for bname, block in (blocks.items() if isinstance(blocks, dict) else ()):
        params = block.get("params") if isinstance(block, dict) else None
        if isinstance(params, dict) and BLOCK_INPUT[1:] in params:
            diags.append(Diagnostic("reserved-name", f"a parameter cannot be named '{BLOCK_INPUT[1:]}': "
                                                     f"`{BLOCK_INPUT}` names the block's input",
                                    smap.span(("blocks", bname, "params", BLOCK_INPUT[1:]), key=True),
                                    "give the parameter another name"))
    return diags
