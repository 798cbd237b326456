"""The spec layer: YAML text -> validated pydantic models + source map.
Never imports the IR.

The names below load with their module on first use (PEP 562), so that reading
a limit or listing the shipped specs does not build the pydantic models."""
from __future__ import annotations

import importlib

_WHERE = {"DEFAULT_LIMITS": ".limits", "Limits": ".limits", "LoadedSpec": ".load", "load_spec": ".load",
          "loads": ".load", "Spec": ".models", "shipped_names": ".shipped", "shipped_path": ".shipped"}
__all__ = list(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name], __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
