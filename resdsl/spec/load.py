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


def _looks_like_yaml(s: str) -> bool:
    return "\n" in s or (":" in s and not os.path.exists(s))


def _dict_text(data: dict) -> str:
    """A spec given as Python data, written as the YAML it stands for, so its
    mistakes are located like a file's: line and column in that text (shown
    under the name `<dict>`)."""
    import yaml

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


def _dict_error(message: str) -> SpecError:
    return SpecError.at(Span("<dict>", 1, 1, 1, 1), "bad-type", message)


def load_spec(source: "str | dict | os.PathLike | LoadedSpec", limits: Limits = DEFAULT_LIMITS,
              sets=(), **keywords) -> LoadedSpec:
    """Load a spec from a file path, a shipped name (`resnet50`), YAML text, or a
    dict of the same data (`extends:` in it is relative to the working directory).

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
        return loads(_dict_text(source), "<dict>", limits, Path.cwd())
    if not isinstance(source, str):
        raise TypeError(f"load_spec expects a path, a shipped name, YAML text or a dict, got {type(source).__name__}")
    if _looks_like_yaml(source):
        return loads(source, "<string>", limits)
    if os.path.exists(source):
        return _load_file(Path(source), limits)
    shipped = shipped_path(source)
    if shipped is not None:
        return _load_file(shipped, limits)
    names = shipped_names()
    hint = did_you_mean(source, names) or "`resdsl list` shows the shipped specs"
    raise SpecError.at(Span(source, 1, 1, 1, 1), "no-such-spec",
                       f"no file '{source}' and no shipped spec of that name", hint)


def _load_file(path: Path, limits: Limits, display: str | None = None) -> LoadedSpec:
    shown = display or str(path)
    return loads(_read(path, shown, limits), shown, limits, path.parent)


def _read(path: Path, shown: str, limits: Limits) -> str:
    try:
        size = path.stat().st_size
        if size > limits.max_bytes:
            raise SpecError.at(Span(shown, 1, 1, 1, 2), "too-large",
                               f"the spec is {size} bytes; the limit is {limits.max_bytes}",
                               "raise it with --limit max_bytes=N")
        raw = path.read_bytes()
    except OSError as exc:
        raise SpecError.at(Span(shown, 1, 1, 1, 1), "cannot-read",
                           f"cannot read the spec: {exc.strerror or exc}") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError.at(Span(shown, 1, 1, 1, 2), "bad-encoding",
                           f"the spec is not UTF-8 text (byte {exc.start})") from None
