"""`load_spec`: a path, a shipped name or YAML text in; a checked spec out."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import Span, SpecError, did_you_mean
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

    @property
    def name(self) -> str:
        return self.model.name

    @property
    def file(self) -> str:
        return self.source.file

    def span(self, path: tuple, key: bool = False) -> Span:
        return self.source.span(path, key)

    def error(self, path: tuple, code: str, message: str, hint: str | None = None) -> SpecError:
        return SpecError.at(self.span(path), code, message, hint, self.source.text)


def loads(text: str, file: str = "<spec>", limits: Limits = DEFAULT_LIMITS) -> LoadedSpec:
    data, smap = load_yaml(text, file, limits)
    return LoadedSpec(validate_data(data, smap), smap, limits)


def _looks_like_yaml(s: str) -> bool:
    return "\n" in s or (":" in s and not os.path.exists(s))


def load_spec(source: "str | os.PathLike | LoadedSpec", limits: Limits = DEFAULT_LIMITS) -> LoadedSpec:
    """Load a spec from a file path, a shipped name (`resnet50`) or YAML text."""
    if isinstance(source, LoadedSpec):
        return source
    if isinstance(source, os.PathLike):
        return _load_file(Path(source), limits)
    if not isinstance(source, str):
        raise TypeError(f"load_spec expects a path, a shipped name or YAML text, got {type(source).__name__}")
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
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError.at(Span(shown, 1, 1, 1, 2), "bad-encoding",
                           f"the spec is not UTF-8 text (byte {exc.start})") from None
    return loads(text, shown, limits)
