"""Diagnostics: every mistake in a spec becomes a located, printable SpecError.

The format follows compilers people already read (`file:line:col: error: message
[code]`, a caret under the span, an optional hint) so editors can jump to it.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Iterable, Sequence


@dataclass(frozen=True)
class Span:
    """Where a value came from. Lines and columns are 1-based; end is exclusive."""

    file: str
    line: int
    column: int
    end_line: int
    end_column: int

    @classmethod
    def unknown(cls, file: str = "<spec>") -> "Span":
        return cls(file, 1, 1, 1, 1)


@dataclass
class Diagnostic:
    code: str
    message: str
    span: Span
    hint: str | None = None

    def to_dict(self) -> dict:
        d = asdict(self.span)
        d.update(code=self.code, message=self.message, hint=self.hint)
        return d


@dataclass
class SpecError(Exception):
    """One or more located problems in a spec; raised for every user mistake."""

    diagnostics: list[Diagnostic]
    sources: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.render(color=False))

    @classmethod
    def at(cls, span: Span, code: str, message: str, hint: str | None = None,
           source: str | None = None) -> "SpecError":
        sources = {span.file: source} if source is not None else {}
        return cls([Diagnostic(code, message, span, hint)], sources)

    @property
    def first(self) -> Diagnostic:
        return self.diagnostics[0]

    @property
    def code(self) -> str:
        return self.first.code

    def with_source(self, file: str, text: str) -> "SpecError":
        self.sources.setdefault(file, text)
        self.args = (self.render(color=False),)
        return self

    def render(self, color: bool = False) -> str:
        return "\n".join(format_diagnostic(d, self.sources.get(d.span.file), color)
                         for d in self.diagnostics)

    def to_json(self) -> str:
        import json  # only for --error-format json; most runs never load it
        return json.dumps([d.to_dict() for d in self.diagnostics], indent=2)

    def __str__(self) -> str:  # dataclass would otherwise print the fields
        return self.render(color=False)


# YAML's line breaks (str.splitlines also splits on \x0b, \x0c, \x1c-\x1e, which
# YAML does not, and the caret would land on the wrong line). A pattern, not a
# compiled one: `re` compiles and caches it on the first error shown, not at every start.
_YAML_BREAKS = "\r\n|[\r\n\x85\u2028\u2029]"
_SHOWN_WIDTH = 120  # source shown around the caret; a 1 MB one-line spec stays one screen line


def _visible(text: str, keep_width: bool = False) -> str:
    """Spec text made safe for a terminal: no escape sequences or invisible characters."""
    if keep_width:
        return "".join(ch if ch.isprintable() else "?" for ch in text)
    return "".join(ch if ch.isprintable() or ch == "\n" else repr(ch)[1:-1] for ch in text)


def format_diagnostic(d: Diagnostic, source: str | None, color: bool = False) -> str:
    s = d.span
    red, bold, reset = ("\x1b[31m", "\x1b[1m", "\x1b[0m") if color else ("", "", "")
    lines = [(f"{bold}{_visible(s.file)}:{s.line}:{s.column}:{reset} {red}error:{reset} "
              f"{_visible(d.message)} [{d.code}]")]
    if source is not None:
        src_lines = re.split(_YAML_BREAKS, source)
        if 1 <= s.line <= len(src_lines):
            text = _visible(src_lines[s.line - 1].replace("\t", " "), keep_width=True)
            col = s.column
            width = (s.end_column - s.column) if s.end_line == s.line else len(text) - s.column + 1
            width = max(1, min(width, max(1, len(text) - s.column + 1), _SHOWN_WIDTH // 2))
            if len(text) > _SHOWN_WIDTH:  # show a window around the caret
                start = max(0, min(col - 1 - _SHOWN_WIDTH // 3, len(text) - _SHOWN_WIDTH))
                text = ("..." if start else "") + text[start:start + _SHOWN_WIDTH] + \
                    ("..." if start + _SHOWN_WIDTH < len(text) else "")
                col = col - start + (3 if start else 0)
            gutter = f"{s.line:>4} | "
            lines.append(gutter + text)
            lines.append(" " * (len(gutter) - 2) + "| " + " " * (col - 1) + "^" * width)
    if d.hint:
        lines.append(f"  hint: {_visible(d.hint)}")
    return "\n".join(lines)


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """A 'did you mean' suffix for the closest known name, as sqlglot and Keras do."""
    import difflib  # loaded with the first mistake, not at every start
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


def expected_one_of(choices: Sequence[str]) -> str:
    return "expected one of: " + ", ".join(f"'{c}'" for c in choices)


class HintedError(Exception):
    """The base of resdsl's errors that are not located in a spec: a message, and
    apart from it what to do about it (`hint`, printed by the CLI on its own
    line). Each subclass names one kind of failure, which callers catch by name."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.hint = hint


class OutputError(HintedError):
    """An output that cannot be written (bad path, permissions, refusing to overwrite)."""
