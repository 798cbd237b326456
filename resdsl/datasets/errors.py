"""The data sets' error, importable without numpy (the CLI catches it)."""
from __future__ import annotations

from ..errors import HintedError


class DataError(HintedError):
    """A data set that is missing, truncated or not in the format expected."""
