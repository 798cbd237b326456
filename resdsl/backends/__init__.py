"""Backends turn a resolved IR into framework models or Python source.

Each backend is a package (`torch/`, `keras/`) whose top level satisfies
`Backend`: `build(resolved, **options)` and `emit(resolved, **options)`,
written on the shared, framework-free helpers in `common`. A third backend is
one more package, its name in vocab.BACKENDS (the single list of backend names,
which the CLI's choices and the docs read) and its framework in
frameworks.FRAMEWORKS (tests/core/test_backend_protocol.py plugs one in). Backends never import
each other; importing this package imports no framework. Weight porting
(`port/`) sits beside them and may use both.
"""
from __future__ import annotations

import importlib
from typing import Any, Protocol, runtime_checkable

from ..errors import did_you_mean
from ..vocab import BACKENDS as NAMES

BACKENDS = {name: f"{__name__}.{name}" for name in NAMES}


@runtime_checkable
class Backend(Protocol):
    """What `resdsl.build` / `resdsl.emit` need of a backend module."""

    def build(self, resolved: Any, **options: Any) -> Any:
        """An in-memory framework model of the resolved network."""

    def emit(self, resolved: Any, **options: Any) -> str:
        """Python source of a module that defines the network; imports no framework."""


def get_backend(name: str) -> Backend:
    if name not in BACKENDS:
        hint = did_you_mean(name, BACKENDS) or f"choose one of: {', '.join(BACKENDS)}"
        raise ValueError(f"unknown backend '{name}'; {hint}")
    return importlib.import_module(BACKENDS[name])
