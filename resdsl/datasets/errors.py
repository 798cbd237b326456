"""The data sets' error, importable without numpy (the CLI catches it)."""
from __future__ import annotations


class DataError(Exception):
    """A data set that is missing, truncated or not in the format expected."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.hint = hint
