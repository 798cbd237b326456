"""Derived specs: `extends: resnet50` plus overrides, merged on the plain data
before validation, so the IR never knows a spec had a parent.

Merging is key by key. A mapping given where the parent has a list addresses
the list's items by name (`stages: {layer3: {repeat: 2}}`, `head: {fc: {units: 5}}`);
any other value replaces the parent's. The merged source map keeps, for every
value, the span in the file that wrote it, so an error lands in the child or
the parent, wherever the mistake is.
"""
from __future__ import annotations

import copy
from typing import Callable

from ..errors import Span, SpecError, did_you_mean
from .sourcemap import SourceMap

EXTENDS = "extends"


def item_names(items: list) -> list[str]:
    """The name of each list item: a stage's `name` (default layerN, as the IR
    names it) or a layer's `name:` parameter; '' where it has none."""
    out = []
    for i, item in enumerate(items):
        name = ""
        if isinstance(item, dict) and ("block" in item or "blocks" in item) and not is_layer(item):
            name = item.get("name") or f"layer{i + 1}"
        elif is_layer(item):
            params = next(iter(item.values()))
            name = params.get("name", "") if isinstance(params, dict) else ""
        out.append(name if isinstance(name, str) else "")
    return out


def is_layer(item) -> bool:
    return isinstance(item, dict) and len(item) == 1 and isinstance(next(iter(item.values())), (dict, type(None)))


def find_item(items: list, name: str, span: Span, where: str, text: str | None) -> int:
    """The index of the item called `name` (or written as its index), or a located error."""
    if name.isdigit() and int(name) < len(items):
        return int(name)
    names = item_names(items)
    if name in names:
        return names.index(name)
    known = [n for n in names if n]
    hint = did_you_mean(name, known) or (f"named items: {', '.join(known)}" if known else
                                         f"give an index from 0 to {len(items) - 1}")
    raise SpecError.at(span, "unknown-item", f"no item named '{name}' in {where}", hint, text)


def _drop(smap: SourceMap, prefix: tuple) -> None:
    n = len(prefix)
    for table in (smap.values, smap.keys):
        for p in [p for p in table if p[:n] == prefix]:
            del table[p]


def _copy_spans(src: SourceMap, src_prefix: tuple, dst: SourceMap, dst_prefix: tuple) -> None:
    n = len(src_prefix)
    for table, out in ((src.values, dst.values), (src.keys, dst.keys)):
        for p, span in table.items():
            if p[:n] == src_prefix:
                out[dst_prefix + p[n:]] = span


class _Merger:
    def __init__(self, child: SourceMap, out: SourceMap):
        self.child, self.out = child, out

    def merge(self, target: dict, patch: dict, cpath: tuple, tpath: tuple) -> None:
        for key, value in patch.items():
            if not cpath and key == EXTENDS:
                continue
            cp, tp = cpath + (key,), tpath + (key,)
            self.out.keys[tp] = self.child.keys.get(cp, self.child.span(cp))
            old = target.get(key)
            if isinstance(value, dict) and isinstance(old, list):
                self.merge_items(old, value, cp, tp)
            elif isinstance(value, dict) and isinstance(old, dict):
                self.merge(old, value, cp, tp)
            else:
                target[key] = copy.deepcopy(value)
                _drop(self.out, tp)
                self.out.keys[tp] = self.child.keys.get(cp, self.child.span(cp))
                _copy_spans(self.child, cp, self.out, tp)

    def merge_items(self, items: list, patch: dict, cpath: tuple, tpath: tuple) -> None:
        where = ".".join(str(p) for p in tpath)
        for name, value in patch.items():
            cp = cpath + (name,)
            i = find_item(items, str(name), self.child.span(cp, key=True), where, self.child.text)
            item = items[i]
            if not isinstance(value, dict):
                raise SpecError.at(self.child.span(cp), "wrong-type",
                                   f"{where}.{name}: expected a mapping of the keys to change",
                                   "to replace the whole list, write it as a list", self.child.text)
            if is_layer(item):  # `fc: {units: 5}` changes the parameters of `- dense: {..., name: fc}`
                op = next(iter(item))
                if item[op] is None:
                    item[op] = {}
                self.merge(item[op], value, cp, tpath + (i, op))
            else:
                self.merge(item, value, cp, tpath + (i,))


def merge(parent: dict, pmap: SourceMap, child: dict, cmap: SourceMap) -> tuple[dict, SourceMap]:
    """The child's values over the parent's, with each value's span from its own file."""
    out = SourceMap(cmap.file, cmap.text, dict(pmap.values), dict(pmap.keys),
                    {**pmap.sources(), **cmap.others})
    out.values[()] = cmap.span(())
    data = copy.deepcopy(parent)
    _Merger(cmap, out).merge(data, child, (), ())
    return data, out


ParentLoader = Callable[[str, Span], "tuple[dict, SourceMap]"]


def resolve_extends(data, smap: SourceMap, load_parent: ParentLoader) -> tuple[object, SourceMap]:
    """The data with its `extends:` chain merged in (a no-op without one)."""
    if not isinstance(data, dict) or EXTENDS not in data:
        return data, smap
    ref, span = data[EXTENDS], smap.span((EXTENDS,))
    if not isinstance(ref, str) or not ref:
        raise SpecError.at(span, "wrong-type", "extends: expected a shipped spec name or a relative path",
                           "e.g. `extends: resnet50` or `extends: ./base.yaml`", smap.text)
    parent, pmap = load_parent(ref, span)
    if not isinstance(parent, dict):
        raise SpecError.at(span, "wrong-type", f"the parent spec '{ref}' is not a mapping of keys",
                           None, smap.text)
    return merge(parent, pmap, data, smap)
