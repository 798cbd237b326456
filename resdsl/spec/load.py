"""`load_spec`: a path, a shipped name or YAML text in; a checked spec out."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import Span, SpecError, did_you_mean
from .blockderive import derive_blocks
from .derive import resolve_extends
from .limits import DEFAULT_LIMITS, Limits
from .models import Spec
from .shipped import shipped_names, shipped_path
from .sourcemap import SourceMap
from .validate import validate_data
from .yamlload import load_yaml


@dataclass(frozen=True)
class LoadedSpec:
    """A validated spec with the source map that locates each of its values."""

    model: Spec
    source: SourceMap
    limits: Limits = DEFAULT_LIMITS
    data: dict | None = None  # the plain data it was validated from (after `extends:`)

    @property
    def name(self) -> str:
        return self.model.name

    @property
    def file(self) -> str:
        return self.source.file

    def span(self, path: tuple, key: bool = False) -> Span:
        return self.source.span(path, key)

    def error(self, path: tuple, code: str, message: str, hint: str | None = None) -> SpecError:
        span = self.span(path)
        return SpecError(SpecError.at(span, code, message, hint).diagnostics, self.source.sources())


def loads(text: str, file: str = "<spec>", limits: Limits = DEFAULT_LIMITS,
          base_dir: "str | os.PathLike | None" = None) -> LoadedSpec:
    data, smap = _derived(text, file, limits, Path(base_dir) if base_dir else Path.cwd(), ())
    data, smap = derive_blocks(data, smap)
    return LoadedSpec(validate_data(data, smap), smap, limits, data if isinstance(data, dict) else None)


def _derived(text: str, file: str, limits: Limits, base_dir: Path, chain: tuple[str, ...]):
    """The YAML data with its `extends:` chain merged in; `chain` holds the real
    paths of the files on the way down (this one last), to refuse cycles."""
    data, smap = load_yaml(text, file, limits)
    chain = chain or (os.path.realpath(file),)

    def parent(ref: str, span: Span):
        path = _parent_path(ref, base_dir, span, smap.text)
        key = os.path.realpath(path)
        if key in chain or len(chain) > _MAX_EXTENDS:
            what = "form a cycle" if key in chain else f"nest more than {_MAX_EXTENDS} levels"
            trail = " -> ".join(os.path.basename(c) for c in chain + (key,))
            raise SpecError.at(span, "extends-cycle", f"`extends:` chains {what}: {trail}",
                               "a spec cannot extend itself or one of its descendants", smap.text)
        shown = ref if shipped_path(ref) == path else str(path)
        try:
            ptext = _read(path, shown, limits)
        except SpecError as exc:  # an unreadable parent is the child's mistake
            d = exc.first
            raise SpecError.at(span, d.code, f"parent '{ref}': {d.message}", d.hint, smap.text) from None
        return _derived(ptext, shown, limits, path.parent, chain + (key,))

    return resolve_extends(data, smap, parent)


_MAX_EXTENDS = 16


def _at(span: Span, exc: SpecError, smap: SourceMap) -> SpecError:
    """An unreadable parent is the child's mistake: point at its `extends:`."""
    d = exc.first
    return SpecError.at(span, d.code, d.message, d.hint, smap.text)


def _parent_path(ref: str, base_dir: Path, span: Span, text: str) -> Path:
    candidate = base_dir / ref
    if candidate.is_file():
        return candidate
    shipped = shipped_path(ref)
    if shipped is not None and "/" not in ref:
        return shipped
    hint = did_you_mean(ref, shipped_names()) or "give a shipped name (`resdsl list`) or a path relative to this file"
    raise SpecError.at(span, "no-such-spec", f"no file '{ref}' next to this spec and no shipped spec of that name",
                       hint, text)


# A string ending so names a file: it is read as one (a missing file is "no such
# file"), even where it holds a ':' that would make it one line of YAML.
PATH_SUFFIXES = (".yaml", ".yml", ".json")


def _kind_of(s: str) -> str:
    """What a string given as a spec is: decided by what exists on disk first.
    'text' (YAML: a newline, or a ':' in something that is neither a file, a
    file name nor a shipped spec), 'file', 'stdin', 'shipped' or 'missing'."""
    if "\n" in s:
        return "text"
    if s == "-":
        return "stdin"
    if os.path.exists(s):
        return "file"
    if s.lower().endswith(PATH_SUFFIXES):
        return "missing"
    if shipped_path(s) is not None:
        return "shipped"
    return "text" if ":" in s else "missing"


def _bounded(data, limits: Limits) -> None:
    """Python data is bounded as a YAML document is, before anything recurses
    into it: nesting (a dict 10,000 levels deep, or one that contains itself)
    and the number of values (shared sub-lists count each time they appear).
    An explicit stack, so the check itself never runs out of Python's."""
    todo, seen = [(data, 0)], 0
    while todo:
        v, depth = todo.pop()
        seen += 1
        if depth > limits.max_depth:
            raise _dict_error(f"the data is nested more than {limits.max_depth} levels deep (or contains itself)",
                              "too-deep", "raise it with max_depth in Limits")
        if seen > limits.max_nodes:
            raise _dict_error(f"the data holds more than {limits.max_nodes} values", "too-large",
                              "raise it with max_nodes in Limits")
        if isinstance(v, dict):
            todo.extend((x, depth + 1) for x in v.values())
        elif isinstance(v, (list, tuple)):
            todo.extend((x, depth + 1) for x in v)


def _dict_text(data: dict, limits: Limits = DEFAULT_LIMITS) -> str:
    """A spec given as Python data, written as the YAML it stands for, so its
    mistakes are located like a file's: line and column in that text (shown
    under the name `<dict>`)."""
    import yaml
    _bounded(data, limits)

    def plain(v, where):
        if isinstance(v, dict):
            bad = next((k for k in v if not isinstance(k, str)), None)
            if bad is not None:
                raise _dict_error(f"the key {bad!r} in {where or 'the spec'} is not a string")
            return {k: plain(x, f"{where}.{k}" if where else k) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [plain(x, f"{where}[{i}]") for i, x in enumerate(v)]
        if v is None or isinstance(v, (str, int, float, bool)):
            return v
        raise _dict_error(f"{where or 'the spec'} is a Python {type(v).__name__!r}; a spec holds only mappings, "
                          "lists, strings, numbers, booleans and null")
    return yaml.safe_dump(plain(data, ""), sort_keys=False, allow_unicode=True, width=120)


def _dict_error(message: str, code: str = "bad-type", hint: str | None = None) -> SpecError:
    return SpecError.at(Span("<dict>", 1, 1, 1, 1), code, message, hint)


def load_spec(source: "str | dict | os.PathLike | LoadedSpec", limits: Limits = DEFAULT_LIMITS,
              sets=(), **keywords) -> LoadedSpec:
    """Load a spec from a file path, a shipped name (`resnet50`), YAML text, a
    dict of the same data (`extends:` in it is relative to the working directory),
    or `-`: standard input.

    `sets` are `--set PATH=VALUE` overrides; the keywords are timm's and
    keras.applications': num_classes, in_channels, input_size, include_top, pooling."""
    if list(sets) or any(v is not None for v in keywords.values()):
        from .overrides import apply_overrides  # only here: most loads have no overrides
        base = load_spec(source, limits)
        data = base.data if base.data is not None else base.model.model_dump(exclude_unset=True)
        data, smap = derive_blocks(*apply_overrides(data, base.source, sets, base.limits, **keywords))
        return LoadedSpec(validate_data(data, smap), smap, base.limits, data)
    if isinstance(source, LoadedSpec):
        return source
    if isinstance(source, os.PathLike):
        return _load_file(Path(source), limits)
    if isinstance(source, dict):
        return loads(_dict_text(source, limits), "<dict>", limits, Path.cwd())
    if not isinstance(source, str):
        raise TypeError(f"load_spec expects a path, a shipped name, YAML text or a dict, got {type(source).__name__}")
    kind = _kind_of(source)
    if kind == "stdin":
        return loads(read_stdin(limits), STDIN, limits)
    if kind == "text":
        try:
            return loads(source, "<string>", limits)
        except SpecError as exc:  # `no:such`: one line that is no mapping was meant as a name
            if "\n" in source or not exc.first.message.startswith("a spec is a mapping of keys, got"):
                raise
            raise SpecError.at(Span(source, 1, 1, 1, 1), "no-such-spec",
                               f"no such file '{source}' and no shipped spec of that name (read as YAML text, "
                               "it is not a mapping of keys either)", "check the path; `resdsl list` shows the "
                               "shipped specs") from None
    if kind == "file":
        return _load_file(Path(source), limits)
    if kind == "shipped":
        return _load_file(shipped_path(source), limits)
    if source.lower().endswith(PATH_SUFFIXES):
        raise SpecError.at(Span(source, 1, 1, 1, 1), "no-such-spec", f"no such file '{source}'",
                           "check the path (relative to the working directory); YAML text given as a string "
                           "holds a newline")
    names = shipped_names()
    hint = did_you_mean(source, names) or "`resdsl list` shows the shipped specs"
    raise SpecError.at(Span(source, 1, 1, 1, 1), "no-such-spec",
                       f"no such file '{source}' and no shipped spec of that name", hint)


def _load_file(path: Path, limits: Limits, display: str | None = None) -> LoadedSpec:
    shown = display or str(path)
    return loads(_read(path, shown, limits), shown, limits, path.parent)


def _read(path: Path, shown: str, limits: Limits) -> str:
    """A spec file's text, never more than `limits.max_bytes` of it: a device
    (`/dev/zero`) or a FIFO with an endless writer reports size 0 and would
    otherwise be read until memory runs out. Opening a FIFO nobody writes to
    blocks, as `cat` does; Ctrl-C stops it (exit 130)."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size > limits.max_bytes:  # a regular file: say how big it is
                raise _too_large(shown, f"the spec is {size} bytes; the limit is {limits.max_bytes}")
            raw = _read_at_most(f, limits.max_bytes, shown)
    except OSError as exc:
        raise SpecError.at(Span(shown, 1, 1, 1, 1), "cannot-read",
                           f"cannot read the spec: {exc.strerror or exc}") from None
    return _decoded(raw, shown)


def read_stdin(limits: Limits = DEFAULT_LIMITS) -> str:
    """The spec piped to `-`, read as boundedly as a file."""
    import sys
    try:
        raw = _read_at_most(sys.stdin.buffer, limits.max_bytes, STDIN)
    except OSError as exc:
        raise SpecError.at(Span(STDIN, 1, 1, 1, 1), "cannot-read",
                           f"cannot read the spec: {exc.strerror or exc}") from None
    return _decoded(raw, STDIN)


STDIN = "<stdin>"


def _read_at_most(f, limit: int, shown: str) -> bytes:
    chunks, total = [], 0
    while True:
        chunk = f.read(min(1 << 16, limit + 1 - total))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:
            raise _too_large(shown, f"the spec is larger than the limit of {limit} bytes (reading stopped there)")


def _too_large(shown: str, message: str) -> SpecError:
    return SpecError.at(Span(shown, 1, 1, 1, 2), "too-large", message,
                        "a spec is a short text file; raise it with --limit max_bytes=N if this one is meant")


def _decoded(raw: bytes, shown: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError.at(Span(shown, 1, 1, 1, 2), "bad-encoding",
                           f"the spec is not UTF-8 text (byte {exc.start})") from None
