"""Safe, bounded YAML loading that keeps every value's position.

We compose the YAML node tree with PyYAML's SafeLoader (no object construction
happens there) and convert it ourselves, so we can (1) record spans, (2) refuse
any tag that is not plain data — a `!!python/...` tag is a located error, never
an import — and (3) bound alias expansion, depth and size before they cost memory.
"""
from __future__ import annotations

import yaml

from ..errors import SpecError, Span
from .limits import DEFAULT_LIMITS, Limits
from .sourcemap import SourceMap

_PLAIN_TAGS = {
    "tag:yaml.org,2002:str", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null",
}
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"


def _span(file: str, node: yaml.Node) -> Span:
    s, e = node.start_mark, node.end_mark
    end_line, end_col = e.line + 1, e.column + 1
    if end_line > s.line + 1:  # block collections end on a later line: point at the start
        end_line, end_col = s.line + 1, s.column + 2
    return Span(file, s.line + 1, s.column + 1, end_line, max(end_col, s.column + 2))


class _Converter:
    def __init__(self, file: str, text: str, limits: Limits):
        self.file, self.text, self.limits = file, text, limits
        self.smap = SourceMap(file, text)
        self.count = 0
        self.scalar_loader = yaml.SafeLoader("")

    def error(self, node: yaml.Node, code: str, msg: str, hint: str | None = None) -> SpecError:
        return SpecError.at(_span(self.file, node), code, msg, hint, self.text)

    def convert(self, node: yaml.Node, path: tuple, depth: int):
        self.count += 1
        if self.count > self.limits.max_nodes:
            raise self.error(node, "too-large",
                             f"the document expands to more than {self.limits.max_nodes} values",
                             "anchors and aliases may multiply a document; raise the limit "
                             "with --limit max_nodes=N if this is intended")
        if depth > self.limits.max_depth:
            raise self.error(node, "too-deep",
                             f"values are nested more than {self.limits.max_depth} levels deep")
        self.smap.values.setdefault(path, _span(self.file, node))
        if isinstance(node, yaml.MappingNode):
            if node.tag != _MAP:
                raise self._bad_tag(node)
            out: dict = {}
            for knode, vnode in node.value:
                if not isinstance(knode, yaml.ScalarNode) or knode.tag not in _PLAIN_TAGS:
                    raise self.error(knode, "bad-key", "keys must be plain names")
                key = self.scalar(knode)
                if knode.tag == "tag:yaml.org,2002:str" and key == "<<":
                    raise self.error(knode, "bad-key", "YAML merge keys ('<<') are not supported")
                if not isinstance(key, (str, int)) or isinstance(key, bool):
                    raise self.error(knode, "bad-key", f"keys must be names, got {key!r}")
                if key in out:
                    raise self.error(knode, "duplicate-key", f"duplicate key '{key}'")
                self.smap.keys[path + (key,)] = _span(self.file, knode)
                out[key] = self.convert(vnode, path + (key,), depth + 1)
            return out
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _SEQ:
                raise self._bad_tag(node)
            return [self.convert(v, path + (i,), depth + 1) for i, v in enumerate(node.value)]
        if node.tag not in _PLAIN_TAGS:
            raise self._bad_tag(node)
        return self.scalar(node)

    def scalar(self, node: yaml.ScalarNode):
        try:
            return self.scalar_loader.construct_object(node, deep=False)
        except (yaml.YAMLError, ValueError, OverflowError) as exc:
            raise self.error(node, "bad-value", f"cannot read this value: {exc}") from None

    def _bad_tag(self, node: yaml.Node) -> SpecError:
        return self.error(node, "unsafe-tag",
                          f"tag '{node.tag}' is not allowed: a spec is plain data",
                          "remove the '!' tag; specs never run Python")


class _CountingLoader(yaml.SafeLoader):
    """Counts aliases while composing, so a flood of them stops early."""

    max_aliases = DEFAULT_LIMITS.max_aliases

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            self.alias_count = getattr(self, "alias_count", 0) + 1
            if self.alias_count > self.max_aliases:
                mark = self.peek_event().start_mark
                raise _TooManyAliases(mark)
        return super().compose_node(parent, index)


class _TooManyAliases(Exception):
    def __init__(self, mark):
        self.mark = mark


def load_yaml(text: str, file: str = "<spec>", limits: Limits = DEFAULT_LIMITS):
    """Return (data, SourceMap) or raise a located SpecError."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > limits.max_bytes:
        raise SpecError.at(Span(file, 1, 1, 1, 2), "too-large",
                           f"the spec is {size} bytes; the limit is {limits.max_bytes}",
                           "raise it with --limit max_bytes=N", text)
    loader = _CountingLoader(text)
    loader.max_aliases = limits.max_aliases
    try:
        root = loader.get_single_node()
    except _TooManyAliases as exc:
        m = exc.mark
        raise SpecError.at(Span(file, m.line + 1, m.column + 1, m.line + 1, m.column + 2),
                           "too-many-aliases",
                           f"more than {limits.max_aliases} aliases in one document",
                           "raise it with --limit max_aliases=N", text) from None
    except yaml.MarkedYAMLError as exc:
        m = exc.problem_mark or exc.context_mark
        line, col = (m.line + 1, m.column + 1) if m else (1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        raise SpecError.at(Span(file, line, col, line, col + 1), "yaml-syntax",
                           f"YAML syntax error: {problem}", None, text) from None
    except yaml.YAMLError as exc:
        raise SpecError.at(Span(file, 1, 1, 1, 2), "yaml-syntax",
                           f"YAML syntax error: {exc}", None, text) from None
    except RecursionError:
        raise SpecError.at(Span(file, 1, 1, 1, 2), "too-deep",
                           "the document is nested too deeply", None, text) from None
    finally:
        loader.dispose()
    if root is None:
        raise SpecError.at(Span(file, 1, 1, 1, 2), "empty-spec", "the spec is empty",
                           "start with `resdsl: 1`; see `resdsl schema`", text)
    conv = _Converter(file, text, limits)
    try:
        data = conv.convert(root, (), 0)
    except RecursionError:
        raise SpecError.at(Span(file, 1, 1, 1, 2), "too-deep",
                           "the document is nested too deeply", None, text) from None
    return data, conv.smap
