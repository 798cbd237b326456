"""Safe, bounded YAML loading that keeps every value's position.

We compose the YAML node tree with PyYAML's SafeLoader (no object construction
happens there) and convert it ourselves, so we can (1) record spans, (2) refuse
any tag that is not plain data — a `!!python/...` tag is a located error, never
an import — and (3) bound nesting, node count and alias expansion *while*
composing, before a hostile document can cost memory or stack.
"""
from __future__ import annotations

import yaml
from yaml.composer import Composer
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

from ..errors import HintedError, Span, SpecError
from .limits import DEFAULT_LIMITS, Limits
from .sourcemap import SourceMap

_STR = "tag:yaml.org,2002:str"
_PLAIN_TAGS = {_STR, "tag:yaml.org,2002:int", "tag:yaml.org,2002:float",
               "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null"}
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
# Implicit types a plain scalar may resolve to that are not plain data. We read
# them as the text written (`description: 2024-01-01` is a string, not a date);
# only an explicit `!!timestamp` is refused.
_TEXT_IMPLICIT = {"tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:value", "tag:yaml.org,2002:yaml"}


def _span(file: str, node: yaml.Node) -> Span:
    s, e = node.start_mark, node.end_mark
    end_line, end_col = e.line + 1, e.column + 1
    if end_line > s.line + 1:  # block collections end on a later line: point at the start
        end_line, end_col = s.line + 1, s.column + 2
    return Span(file, s.line + 1, s.column + 1, end_line, max(end_col, s.column + 2))


def _mark_span(file: str, mark) -> Span:
    return Span(file, mark.line + 1, mark.column + 1, mark.line + 1, mark.column + 2)


def _pos_span(file: str, text: str, pos: int) -> Span:
    """A span for a character offset (ReaderError only knows the offset)."""
    pos = max(0, min(pos, len(text)))
    line = text.count("\n", 0, pos) + 1
    col = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return Span(file, line, col, line, col + 1)


class _Located(HintedError):
    """Raised inside the composer; turned into a SpecError with the source text."""

    def __init__(self, mark, code: str, message: str, hint: str | None = None):
        super().__init__(message, hint)
        self.mark, self.code, self.message = mark, code, message


class _Bounded(Composer, Resolver):
    """The composer with bounds: it counts depth, nodes and the size each alias
    expands to *while* composing, so a "billion laughs" document stops after a
    few hundred events, long before anything is expanded."""

    def _start(self, limits: Limits) -> None:
        Composer.__init__(self)
        Resolver.__init__(self)
        self.limits, self.depth, self.aliases, self.expanded = limits, 0, 0, 0
        self.sizes = [0]  # expanded size of each collection being composed

    def _grow(self, mark, n: int) -> None:
        """Count `n` more values in the expanded document (1 for a node, the
        anchored value's whole size for an alias)."""
        self.expanded += n
        if self.expanded > self.limits.max_nodes:
            raise _Located(mark, "too-large",
                           f"the document expands to more than {self.limits.max_nodes} values",
                           "anchors and aliases may multiply a document; raise the limit "
                           "with --limit max_nodes=N if this is intended")

    def compose_node(self, parent, index):
        mark = self.peek_event().start_mark
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > self.limits.max_aliases:
                raise _Located(mark, "too-many-aliases",
                               f"more than {self.limits.max_aliases} aliases in one document",
                               "raise it with --limit max_aliases=N")
            node = super().compose_node(parent, index)
            size = getattr(node, "_resdsl_size", None)
            if size is None:  # the anchored value is still being composed: it contains itself
                raise _Located(mark, "recursive-alias", "this alias refers to a value that contains it",
                               "a spec is a tree; recursive anchors are not allowed")
            self._grow(mark, size)
            self.sizes[-1] += size
            return node
        self._grow(mark, 1)
        self.depth += 1
        if self.depth > self.limits.max_depth:
            raise _Located(mark, "too-deep", f"values are nested more than {self.limits.max_depth} levels deep",
                           "raise it with --limit max_depth=N")
        self.sizes.append(0)
        try:
            node = super().compose_node(parent, index)
        finally:
            self.depth -= 1
            inner = self.sizes.pop()
        node._resdsl_size = 1 + inner  # what each alias to it will expand to
        self.sizes[-1] += 1 + inner
        return node

    def resolve(self, kind, value, implicit):
        tag = super().resolve(kind, value, implicit)
        return _STR if kind is yaml.ScalarNode and tag in _TEXT_IMPLICIT and implicit[0] else tag


class _PyLoader(_Bounded, Reader, Scanner, Parser):
    def __init__(self, text: str, limits: Limits):
        Reader.__init__(self, text)
        Scanner.__init__(self)
        Parser.__init__(self)
        self._start(limits)


_BYTE_OFFSETS = bool(getattr(yaml, "__with_libyaml__", False))
if _BYTE_OFFSETS:
    from yaml._yaml import CParser

    class _Loader(_Bounded, CParser):
        """libyaml scans and parses (about 8x faster than pure Python on a large
        document); composition stays in Python, in `_Bounded`."""

        def __init__(self, text: str, limits: Limits):
            CParser.__init__(self, text)
            self._start(limits)
else:  # pragma: no cover - PyYAML built without libyaml
    _Loader = _PyLoader


# Re-reading a broken document with the pure-Python parser is only worth its
# cost for ordinary spec sizes.
_REWORD_MAX_BYTES = 64 * 1024


def _syntax_error(text: str, limits: Limits, exc: yaml.MarkedYAMLError) -> Exception:
    """PyYAML's wording of a syntax error, whichever parser found it, so messages
    do not depend on whether PyYAML was built with libyaml. libyaml also stops at
    its own nesting limit (1000), where our located `too-deep` says more."""
    if _Loader is _PyLoader or len(text) > _REWORD_MAX_BYTES:
        return exc
    try:
        _PyLoader(text, limits).get_single_node()
    except (yaml.MarkedYAMLError, _Located) as pyexc:
        return pyexc
    except (yaml.YAMLError, RecursionError):
        pass
    return exc


class _Converter:
    def __init__(self, file: str, text: str, limits: Limits):
        self.file, self.text, self.limits = file, text, limits
        self.smap = SourceMap(file, text)
        self.count = 0
        self.scalar_loader = yaml.SafeLoader("")

    def error(self, node: yaml.Node, code: str, msg: str, hint: str | None = None) -> SpecError:
        return SpecError.at(_span(self.file, node), code, msg, hint, self.text)

    def convert(self, node: yaml.Node, path: tuple, depth: int):
        # Aliases were counted while composing; here they are expanded, so the
        # expanded size is what we bound ("billion laughs").
        self.count += 1
        if self.count > self.limits.max_nodes:
            raise self.error(node, "too-large",
                             f"the document expands to more than {self.limits.max_nodes} values",
                             "anchors and aliases may multiply a document; raise the limit "
                             "with --limit max_nodes=N if this is intended")
        if depth > self.limits.max_depth:  # an alias can nest a deep subtree deeper still
            raise self.error(node, "too-deep",
                             f"values are nested more than {self.limits.max_depth} levels deep",
                             "raise it with --limit max_depth=N")
        self.smap.values.setdefault(path, _span(self.file, node))
        if isinstance(node, yaml.MappingNode):
            if node.tag != _MAP:
                raise self._bad_tag(node)
            out: dict = {}
            for knode, vnode in node.value:
                if knode.tag == "tag:yaml.org,2002:merge":
                    raise self.error(knode, "bad-key", "YAML merge keys ('<<') are not supported",
                                     "write the keys out, or use an alias as a whole value")
                if not isinstance(knode, yaml.ScalarNode) or knode.tag not in _PLAIN_TAGS:
                    raise self.error(knode, "bad-key", "keys must be plain names")
                key = self.scalar(knode)
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
        shown = node.tag if len(node.tag) <= 80 else node.tag[:77] + "..."
        return self.error(node, "unsafe-tag",
                          f"tag '{shown}' is not allowed: a spec is plain data",
                          "remove the '!' tag; specs never run Python")


def _located(file: str, text: str, exc: _Located) -> SpecError:
    return SpecError.at(_mark_span(file, exc.mark), exc.code, exc.message, exc.hint, text)


def _compose(text: str, file: str, limits: Limits):
    """The YAML node tree, or a located SpecError for unreadable YAML."""
    loader = None
    try:
        loader = _Loader(text, limits)  # the reader checks characters here
        return loader.get_single_node()
    except _Located as exc:
        raise _located(file, text, exc) from None
    except yaml.reader.ReaderError as exc:
        what = f"U+{exc.character:04X}" if isinstance(exc.character, int) else repr(exc.character)
        pos = exc.position
        if _BYTE_OFFSETS:  # libyaml counts UTF-8 bytes, PyYAML characters
            pos = len(text.encode("utf-8", "surrogatepass")[:pos].decode("utf-8", "ignore"))
        raise SpecError.at(_pos_span(file, text, pos), "bad-character",
                           f"character {what} is not allowed in YAML", "remove it or quote it as an escape",
                           text) from None
    except yaml.MarkedYAMLError as exc:
        exc = _syntax_error(text, limits, exc)
        if isinstance(exc, _Located):
            raise _located(file, text, exc) from None
        m = exc.problem_mark or exc.context_mark
        span = _mark_span(file, m) if m else Span(file, 1, 1, 1, 2)
        problem = exc.problem or exc.context or "invalid YAML"
        if "nesting depth" in problem:  # libyaml's own bound (1000 levels), met before ours
            raise SpecError.at(span, "too-deep", f"values are nested too deeply ({problem})",
                               "a spec needs a few levels; libyaml allows at most 1000", text) from None
        raise SpecError.at(span, "yaml-syntax", f"YAML syntax error: {problem}", None, text) from None
    except yaml.YAMLError as exc:
        raise SpecError.at(Span(file, 1, 1, 1, 2), "yaml-syntax", f"YAML syntax error: {exc}", None, text) from None
    except RecursionError:  # only if max_depth is raised beyond Python's stack
        raise SpecError.at(Span(file, 1, 1, 1, 2), "too-deep", "the document is nested too deeply",
                           "lower --limit max_depth", text) from None
    finally:
        if loader is not None and hasattr(loader, "dispose"):
            loader.dispose()


def load_yaml(text: str, file: str = "<spec>", limits: Limits = DEFAULT_LIMITS):
    """Return (data, SourceMap) or raise a located SpecError."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > limits.max_bytes:
        raise SpecError.at(Span(file, 1, 1, 1, 2), "too-large",
                           f"the spec is {size} bytes; the limit is {limits.max_bytes}",
                           "raise it with --limit max_bytes=N", text)
    root = _compose(text, file, limits)
    if root is None:
        raise SpecError.at(Span(file, 1, 1, 1, 2), "empty-spec", "the spec is empty",
                           "start with `resdsl: 1`; see `resdsl schema`", text)
    conv = _Converter(file, text, limits)
    try:
        data = conv.convert(root, (), 0)
    except RecursionError:
        raise SpecError.at(Span(file, 1, 1, 1, 2), "too-deep",
                           "the document is nested too deeply", "lower --limit max_depth", text) from None
    return data, conv.smap
