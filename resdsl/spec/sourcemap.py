"""Maps a path inside the loaded YAML data (keys and indices) to its source span.

Kept beside the plain data rather than inside it so the pydantic models stay
ordinary; any later stage can turn a path back into `file:line:col`."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import Span

Path = tuple  # of str keys and int indices


@dataclass
class SourceMap:
    file: str
    text: str
    values: dict[Path, Span] = field(default_factory=dict)
    keys: dict[Path, Span] = field(default_factory=dict)
    # Text of every other file a value may come from: a parent named by
    # `extends:`, or the pseudo-files of `--set` and keyword overrides.
    others: dict[str, str] = field(default_factory=dict)

    def sources(self) -> dict[str, str]:
        """Every file's text by name, for showing a caret under any span."""
        return {**self.others, self.file: self.text}

    def span(self, path: Path, key: bool = False) -> Span:
        """The span of `path`'s value (or its key), falling back to the nearest parent."""
        table = self.keys if key else self.values
        p = tuple(path)
        while p:
            if p in table:
                return table[p]
            if key and p in self.values:
                return self.values[p]
            p = p[:-1]
            table = self.values
        return self.values.get((), Span(self.file, 1, 1, 1, 1))
