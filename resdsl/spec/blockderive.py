"""Derived user blocks: `extends: <block>` starts a block from another block of the
spec, and `insert`, `replace` and `remove` edit its main path without restating it.

Merged on the plain data before validation, as spec/derive.py merges whole specs,
so the IR never knows a block had a parent. The child's other keys are merged over
the parent's as a derived spec's are (`params` key by key; a mapping given for
`main` changes its layers by name, `main: {conv2: {stride: 2}}`; anything else
replaces the parent's). Then the edits, each addressing a layer of that main path
by its `name:` or its index:

    insert:  [{after: bn3, layers: [se]}, {before: conv1, layers: [...]}]
    replace: {act2: {act: silu}}      # one layer (which keeps the old one's name) or a list
    remove:  [act3]

Every value keeps the span it was written at: an inherited layer points into the
parent block, an inserted one into the child's `insert`.
"""
from __future__ import annotations

import copy

from ..errors import Diagnostic, Span, SpecError, did_you_mean, expected_one_of
from ..vocab import BLOCKS as BUILTIN
from .derive import _copy_spans, _drop, _Merger, item_names
from .sourcemap import SourceMap

EXTENDS, INSERT, REPLACE, REMOVE = "extends", "insert", "replace", "remove"
KEYS = (EXTENDS, INSERT, REPLACE, REMOVE)


# Chains of derived blocks, as of derived specs (spec/load.py), are at most this deep.
MAX_CHAIN = 16


def derive_blocks(data, smap: SourceMap) -> tuple[object, SourceMap]:
    """The data with every derived or edited block merged (a no-op without one)."""
    blocks = data.get("blocks") if isinstance(data, dict) else None
    if not isinstance(blocks, dict) or not any(isinstance(b, dict) and any(k in b for k in KEYS)
                                               for b in blocks.values()):
        return data, smap
    data = {**data, "blocks": dict(blocks)}
    # Each block's spans in a map of its own, so that merging one costs what the block
    # holds, not what the spec does (a spec of many derived blocks stays fast).
    own: dict = {}
    for table, slot in ((smap.values, 0), (smap.keys, 1)):
        for path, span in table.items():
            if len(path) >= 2 and path[0] == "blocks":
                own.setdefault(path[1], ({}, {}))[slot][path] = span
    maps = {name: SourceMap(smap.file, smap.text, *own.get(name, ({}, {})), smap.others) for name in blocks}
    state: dict[str, str] = {}  # block -> "busy" while its parents are merged, "done" after
    for name in list(blocks):
        _derive(data["blocks"], name, maps, smap, state, [])
    derived = {name for name in blocks if state.get(name) == "derived"}
    out = SourceMap(smap.file, smap.text, others=smap.others)
    for table, mine in ((smap.values, out.values), (smap.keys, out.keys)):
        mine.update((p, span) for p, span in table.items()
                    if not (len(p) >= 2 and p[0] == "blocks" and p[1] in derived))
    for name in derived:
        out.values.update(maps[name].values)
        out.keys.update(maps[name].keys)
    return data, out


def _error(smap: SourceMap, span: Span, code: str, msg: str, hint: str | None = None) -> SpecError:
    return SpecError([Diagnostic(code, msg, span, hint)], smap.sources())


def _derive(blocks: dict, name: str, maps: dict, spec: SourceMap, state: dict, trail: list[str]) -> None:
    """Merge block `name` (its parents first); `maps[name]` becomes its spans."""
    block, smap = blocks[name], maps[name]
    if state.get(name) in ("done", "derived") or not isinstance(block, dict) or not any(k in block for k in KEYS):
        state.setdefault(name, "done")
        return
    path = ("blocks", name)
    state[name] = "busy"
    if EXTENDS in block:
        ref, span = block[EXTENDS], smap.span(path + (EXTENDS,))
        if not isinstance(ref, str) or ref not in blocks:
            known = [str(b) for b in blocks if b != name]
            hint = ("a block extends a user block of this spec; a built-in kind has no layers to start from"
                    if isinstance(ref, str) and ref in BUILTIN else did_you_mean(str(ref), known) or
                    (expected_one_of(known) if known else "define the parent under `blocks:` too"))
            raise _error(spec, span, "unknown-block", f"block '{name}' extends an unknown user block '{ref}'", hint)
        if state.get(ref) == "busy":
            cycle = " -> ".join(trail[trail.index(ref):] + [name, ref]) if ref in trail else f"{name} -> {ref}"
            raise _error(spec, span, "block-cycle", f"user blocks extend each other in a cycle: {cycle}",
                         "a block cannot extend itself or a block derived from it")
        if len(trail) >= MAX_CHAIN:
            raise _error(spec, span, "too-deep", f"derived blocks chain more than {MAX_CHAIN} levels")
        _derive(blocks, ref, maps, spec, state, trail + [name])
        parent = blocks[ref]
        if not isinstance(parent, dict):
            raise _error(spec, span, "wrong-type", f"block '{ref}' is not a mapping of keys, so nothing to extend")
        out = _relocated(maps[ref], smap, ("blocks", ref), path)
        merged = copy.deepcopy(parent)
        _Merger(smap, out).merge(merged, {k: v for k, v in block.items() if k not in KEYS}, path, path)
    else:
        out = SourceMap(smap.file, smap.text, dict(smap.values), dict(smap.keys), smap.others)
        merged = {k: copy.deepcopy(v) for k, v in block.items() if k not in KEYS}
    if any(k in block for k in (INSERT, REPLACE, REMOVE)):
        merged["main"] = _edited(merged.get("main"), block, path, smap, out)
    blocks[name], maps[name] = merged, out
    state[name] = "derived"


def _relocated(parent: SourceMap, child: SourceMap, src: tuple, dst: tuple) -> SourceMap:
    """The parent block's spans moved to the child's path (the child's own key and
    value spans kept, for errors about the block itself)."""
    out = SourceMap(child.file, child.text, others=child.others)
    _copy_spans(parent, src, out, dst)
    for table, mine in ((out.values, child.values), (out.keys, child.keys)):
        if dst in mine:
            table[dst] = mine[dst]
    return out


class _Slot:
    """One layer of the main path being edited, and what goes before and after it."""

    def __init__(self, item, source: tuple):
        self.item, self.source = item, source   # the layer, and the path its spans are at (in `out`)
        self.before: list[tuple] = []           # (layer, path in the child's map)
        self.after: list[tuple] = []
        self.replaced: list[tuple] | None = None
        self.removed = False


def _edited(main, block: dict, path: tuple, smap: SourceMap, out: SourceMap) -> list:
    """The main path with the block's `insert`, `replace` and `remove` applied, the
    spans of its new layout written into `out`."""
    first = next(k for k in (INSERT, REPLACE, REMOVE) if k in block)
    if not isinstance(main, list):
        raise _error(smap, smap.span(path + (first,), key=True), "missing-key",
                     f"block '{path[1]}' has no main path to {first} layers in",
                     "give it `main:`, or `extends:` a block that has one")
    where = ".".join(str(p) for p in path + ("main",))
    slots = [_Slot(item, path + ("main", i)) for i, item in enumerate(main)]
    names = item_names(main)

    def slot(anchor, at: tuple, key: bool = False) -> _Slot:
        span = smap.span(at, key=key)
        if isinstance(anchor, bool) or not isinstance(anchor, (str, int)):
            raise _error(smap, span, "wrong-type", f"{'.'.join(map(str, at))}: expected a layer's name or index")
        text = str(anchor)
        if text.isdigit() and int(text) < len(slots):
            return slots[int(text)]
        if text in names:
            return slots[names.index(text)]
        known = [n for n in names if n]
        hint = did_you_mean(text, known) or (f"its named layers: {', '.join(known)}; or an index from 0 to "
                                             f"{len(slots) - 1}" if known else
                                             f"give an index from 0 to {len(slots) - 1}")
        what = f"no layer {text} in {where}, which has {len(slots)}" if text.isdigit() else \
            f"no layer named '{text}' in {where}"
        raise _error(smap, span, "unknown-item", what, hint)

    def layers(value, at: tuple, one_ok: bool) -> list[tuple]:
        if one_ok and not isinstance(value, list):
            return [(value, at)]
        if not isinstance(value, list) or not value:
            raise _error(smap, smap.span(at), "wrong-type", f"{'.'.join(map(str, at))}: expected a list of layers")
        return [(v, at + (i,)) for i, v in enumerate(value)]

    inserts = block.get(INSERT, [])
    if not isinstance(inserts, list):
        raise _error(smap, smap.span(path + (INSERT,)), "wrong-type",
                     "insert: expected a list of {after: NAME, layers: [...]} or {before: NAME, layers: [...]}")
    for k, ins in enumerate(inserts):
        at = path + (INSERT, k)
        sides = [s for s in ("after", "before") if isinstance(ins, dict) and s in ins]
        if not isinstance(ins, dict) or len(sides) != 1 or "layers" not in ins or set(ins) - {"after", "before",
                                                                                              "layers"}:
            raise _error(smap, smap.span(at), "wrong-type", f"insert[{k}]: expected {{after: NAME, layers: [...]}} "
                                                            "or {before: NAME, layers: [...]}",
                         "name one anchor, `after` or `before`, and the layers to put there")
        target = slot(ins[sides[0]], at + (sides[0],))
        getattr(target, sides[0]).extend(layers(ins["layers"], at + ("layers",), False))
    replaces = block.get(REPLACE, {})
    if not isinstance(replaces, dict):
        raise _error(smap, smap.span(path + (REPLACE,)), "wrong-type", "replace: expected a mapping of a layer's "
                                                                       "name to the layer (or layers) in its place")
    for anchor, value in replaces.items():
        at = path + (REPLACE, anchor)
        target = slot(anchor, at, key=True)
        target.replaced = layers(value, at, True)
    removes = block.get(REMOVE, [])
    for k, anchor in enumerate(removes if isinstance(removes, list) else [removes]):
        at = path + (REMOVE, k) if isinstance(removes, list) else path + (REMOVE,)
        target = slot(anchor, at)
        if target.replaced is not None:
            raise _error(smap, smap.span(at), "bad-value", f"layer '{anchor}' is both replaced and removed")
        target.removed = True
    return _layout(slots, names, path + ("main",), smap, out)


def _layout(slots: list[_Slot], names: list[str], main: tuple, smap: SourceMap, out: SourceMap) -> list:
    """The edited list; each layer's spans moved to its new index in `out`."""
    placed: list[tuple] = []  # (layer, map holding its spans, path there, slot whose name it keeps)
    for s, name in zip(slots, names):
        placed += [(item, smap, at, None) for item, at in s.before]
        if s.replaced is not None:
            keep = s if len(s.replaced) == 1 and name else None  # `replace: {conv2: ...}` is still conv2
            placed += [(item, smap, at, keep) for item, at in s.replaced]
        elif not s.removed:
            placed.append((s.item, out, s.source, None))
        placed += [(item, smap, at, None) for item, at in s.after]
    moved = SourceMap(out.file, out.text)
    result = []
    for j, (item, table, at, keep) in enumerate(placed):
        _copy_spans(table, at, moved, main + (j,))
        if keep is not None:
            item = _named(item, names[slots.index(keep)])
            if isinstance(item, dict) and len(item) == 1:  # the name's span: where the old layer's was written
                old_op = next(iter(keep.item))
                moved.values.setdefault(main + (j, next(iter(item)), "name"),
                                        out.span(keep.source + (old_op, "name")))
        result.append(copy.deepcopy(item) if table is smap else item)  # inherited layers are copies already
    span, key = out.values.get(main), out.keys.get(main)
    _drop(out, main)
    out.values.update(moved.values)
    out.keys.update(moved.keys)
    if span is not None:
        out.values[main] = span
    if key is not None:
        out.keys[main] = key
    return result


def _named(item, name: str):
    """A replacement layer given the name of the layer it replaces, unless it has one."""
    if isinstance(item, str):
        return {item: {"name": name}}
    if isinstance(item, dict) and len(item) == 1:
        op, params = next(iter(item.items()))
        if params is None:
            return {op: {"name": name}}
        if op == "act" and isinstance(params, str):  # `act: silu`
            return {op: {"fn": params, "name": name}}
        if isinstance(params, dict) and "name" not in params:
            return {op: {**params, "name": name}}
    return item
