"""The networks shipped with resdsl, found by name after a normal `pip install`.

`specs/` at the top of the repository is installed as the package data
`resdsl/specs` (see pyproject.toml), so names resolve the same in a checkout
and in site-packages.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path


def _spec_dir() -> Path:
    try:
        d = Path(str(resources.files("resdsl") / "specs"))
        if d.is_dir():
            return d
    except (ModuleNotFoundError, TypeError):
        pass
    return Path(__file__).resolve().parents[2] / "specs"


def shipped_names() -> list[str]:
    return sorted(p.stem for p in _spec_dir().glob("*.yaml"))


def shipped_path(name: str) -> Path | None:
    p = _spec_dir() / f"{name}.yaml"
    return p if p.is_file() else None
