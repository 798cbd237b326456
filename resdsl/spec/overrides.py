"""Overrides without a file: `--set input.channels=1` on the command line, and
timm/keras.applications-style keywords in Python (`num_classes=5`,
`in_channels=1`, `input_size=(160, 160)`, `include_top=False`, `pooling="avg"`).

Each override is applied to the plain data before validation, like a one-line
child spec. Its values are located in a pseudo-file (`<--set>`, `<keywords>`)
whose lines are the overrides as written, so a wrong path or value gets the same
`file:line:col` message, caret and "did you mean" as a mistake in a YAML file.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

from ..errors import Span, SpecError, did_you_mean
from .derive import find_item, is_layer
from .sourcemap import SourceMap
from .yamlload import load_yaml

SET_FILE, KEYWORD_FILE = "<--set>", "<keywords>"
KEYWORDS = ("num_classes", "in_channels", "input_size", "include_top", "pooling")
# keras.applications' `pooling=`: the head becomes one global pool (names as torchvision / timm)
POOLINGS = {"avg": ("global_avgpool", "avgpool"), "max": ("global_maxpool", "global_pool")}


@dataclass
class _Override:
    line: int  # in the pseudo-file
    segments: list[tuple[str, int, int]]  # (key, start column, end column)
    value: object
    value_map: SourceMap  # spans of the value, already in the pseudo-file


def _parse_set(item: str, line: int, limits) -> _Override:
    path, sep, raw = item.partition("=")
    end = max(len(item), 1) + 1
    if not sep or not path.strip():
        raise SpecError.at(Span(SET_FILE, line, 1, line, end), "bad-override",
                           f"--set expects PATH=VALUE, got '{item}'", "e.g. --set input.channels=1", item)
    segments, col = [], 1
    for seg in path.split("."):
        if not seg.strip():
            raise SpecError.at(Span(SET_FILE, line, col, line, col + 1), "bad-override",
                               "empty key in the path", "keys are separated by single dots", item)
        segments.append((seg.strip(), col, col + len(seg)))
        col += len(seg) + 1
    offset = len(path) + 1
    try:
        value, vmap = load_yaml(raw if raw.strip() else "''", SET_FILE, limits)
    except SpecError as exc:  # the value's own positions, moved to where it sits in the item
        for d in exc.diagnostics:
            s = d.span
            d.span = Span(SET_FILE, line, s.column + offset, line, s.end_column + offset)
        raise SpecError(exc.diagnostics, {SET_FILE: item}) from None
    shifted = SourceMap(SET_FILE, item)
    for table, out in ((vmap.values, shifted.values), (vmap.keys, shifted.keys)):
        for p, s in table.items():
            out[p] = Span(SET_FILE, line, s.column + offset, line, s.end_column + offset)
    return _Override(line, segments, value, shifted)


def _keyword_overrides(data: dict, keywords: dict) -> tuple[list[str], list[tuple[list[str], object]]]:
    """(the lines of the <keywords> pseudo-file, (path, value) of each)."""
    lines, out = [], []

    def add(text, path, value):
        lines.append(text)
        out.append((path, value))

    def fail(text: str, message: str, hint: str | None = None) -> SpecError:
        n = len(lines) + 1
        return SpecError.at(Span(KEYWORD_FILE, n, 1, n, len(text) + 1), "bad-override", message, hint,
                            "\n".join(lines + [text]))

    unknown = [k for k in keywords if k not in KEYWORDS]
    if unknown:
        hint = did_you_mean(unknown[0], KEYWORDS) or "known: " + ", ".join(KEYWORDS)
        raise TypeError(f"unknown override '{unknown[0]}'; {hint}")
    if keywords.get("in_channels") is not None:
        add(f"in_channels={keywords['in_channels']!r}", ["input", "channels"], keywords["in_channels"])
    size = keywords.get("input_size")
    if size is not None:
        if isinstance(size, int) and not isinstance(size, bool):
            size = (size, size)
        if not isinstance(size, (tuple, list)) or len(size) != 2:
            raise fail(f"input_size={size!r}", f"input_size expects (height, width), got {size!r}")
        add(f"input_size={tuple(size)!r}", ["input", "height"], size[0])
        lines.append(lines[-1])
        out.append((["input", "width"], size[1]))
    include_top, pooling = keywords.get("include_top", True), keywords.get("pooling")
    head = data.get("head") if isinstance(data.get("head"), list) else []
    if include_top is not True or pooling is not None:
        text = f"include_top={include_top!r}, pooling={pooling!r}"
        if not isinstance(include_top, bool) or include_top:
            raise fail(text, "pooling applies only with include_top=False (as in keras.applications)"
                       if include_top is True else f"include_top expects True or False, got {include_top!r}")
        if pooling is not None and pooling not in POOLINGS:
            hint = did_you_mean(str(pooling), POOLINGS) or "choose one of: " + ", ".join(POOLINGS)
            raise fail(text, f"unknown pooling {pooling!r}", hint)
        head = [{POOLINGS[pooling][0]: {"name": POOLINGS[pooling][1]}}] if pooling else []
        add(text, ["head"], head)
    if keywords.get("num_classes") is not None:
        text = f"num_classes={keywords['num_classes']!r}"
        dense = [i for i, x in enumerate(head) if is_layer(x) and "dense" in x]
        if not dense:
            raise fail(text, "num_classes needs a dense layer in the head, and this network has none",
                       "with include_top=False there is no classifier")
        add(text, ["head", str(dense[-1]), "dense", "units"], keywords["num_classes"])
    return lines, out


class _Applier:
    def __init__(self, data: dict, smap: SourceMap, file: str, text: str):
        self.data, self.smap, self.file, self.text = data, smap, file, text

    def error(self, line: int, c0: int, c1: int, code: str, message: str, hint=None) -> SpecError:
        return SpecError.at(Span(self.file, line, c0, line, c1), code, message, hint, self.text)

    def apply(self, o: _Override) -> None:
        cur, path = self.data, ()
        for n, (key, c0, c1) in enumerate(o.segments):
            last = n == len(o.segments) - 1
            where = ".".join(str(p) for p in path) or "spec"
            if isinstance(cur, list):
                i = find_item(cur, key, Span(self.file, o.line, c0, o.line, c1), where, self.text)
                path += (i,)
                if last:
                    self._put(cur, i, o, path, c0, c1)
                    return
                cur = cur[i]
                if is_layer(cur) and o.segments[n + 1][0] != next(iter(cur)):
                    op = next(iter(cur))  # `head.fc.units`: into the layer's parameters
                    cur[op] = {} if cur[op] is None else cur[op]
                    cur, path = cur[op], path + (op,)
                elif isinstance(cur, str) and not last:  # a bare layer (`- norm`) given parameters
                    raise self.error(o.line, c0, c1, "bad-override", f"'{key}' is written without parameters",
                                     f"write it as `- {cur}: {{...}}` in the spec first")
                continue
            if not isinstance(cur, dict):
                raise self.error(o.line, c0, c1, "bad-override", f"{where} is a value, not a mapping or a list")
            self.smap.keys[path + (key,)] = Span(self.file, o.line, c0, o.line, c1)
            if last:
                self._put(cur, key, o, path + (key,), c0, c1)
                return
            if key not in cur or cur[key] is None:
                cur[key] = {}  # a wrong name here is reported as an unknown key, with did-you-mean
                self.smap.values[path + (key,)] = Span(self.file, o.line, c0, o.line, c1)
            cur, path = cur[key], path + (key,)

    def _put(self, container, key, o: _Override, path: tuple, c0: int, c1: int) -> None:
        container[key] = copy.deepcopy(o.value)
        n = len(path)
        for table in (self.smap.values, self.smap.keys):
            for p in [p for p in table if p[:n] == path and len(p) > n]:
                del table[p]
        for p, s in o.value_map.values.items():
            self.smap.values[path + p] = s
        for p, s in o.value_map.keys.items():
            self.smap.keys[path + p] = s
        self.smap.values.setdefault(path, Span(self.file, o.line, c0, o.line, c1))


def apply_overrides(data, smap: SourceMap, sets=(), limits=None, **keywords) -> tuple[dict, SourceMap]:
    """The data and source map with `--set` items and keyword overrides applied
    (keywords first, then `--set` in order, so a later one wins)."""
    from .limits import DEFAULT_LIMITS
    limits = limits or DEFAULT_LIMITS
    if not isinstance(data, dict):
        return data, smap
    data = copy.deepcopy(data)
    smap = SourceMap(smap.file, smap.text, dict(smap.values), dict(smap.keys), dict(smap.others))
    keywords = {k: v for k, v in keywords.items() if v is not None}
    if keywords:
        lines, items = _keyword_overrides(data, keywords)
        text = "\n".join(lines)
        smap.others[KEYWORD_FILE] = text
        applier = _Applier(data, smap, KEYWORD_FILE, text)
        for line, (path, value) in enumerate(items, start=1):
            width = len(lines[line - 1]) + 1
            vmap = SourceMap(KEYWORD_FILE, text, {(): Span(KEYWORD_FILE, line, 1, line, width)})
            applier.apply(_Override(line, [(p, 1, width) for p in path], value, vmap))
    sets = list(sets)
    if sets:
        text = "\n".join(sets)
        smap.others[SET_FILE] = text
        applier = _Applier(data, smap, SET_FILE, text)
        for line, item in enumerate(sets, start=1):
            try:
                o = _parse_set(item, line, limits)
            except SpecError as exc:
                raise SpecError(exc.diagnostics, {SET_FILE: text}) from None
            applier.apply(o)
    return data, smap
