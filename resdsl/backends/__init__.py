"""Backends turn a resolved IR into framework models or Python source.

Each backend is one module exposing `build(resolved, **options)` and
`emit(resolved, **options)`, written on the shared helpers in `common`.
Backends never import each other; importing this package imports no framework.
"""
from __future__ import annotations

import importlib
from types import ModuleType

from ..errors import did_you_mean

BACKENDS = {"torch": "resdsl.backends.torch", "keras": "resdsl.backends.keras"}


def get_backend(name: str) -> ModuleType:
    if name not in BACKENDS:
        hint = did_you_mean(name, BACKENDS) or f"choose one of: {', '.join(BACKENDS)}"
        raise ValueError(f"unknown backend '{name}'; {hint}")
    return importlib.import_module(BACKENDS[name])
