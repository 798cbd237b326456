"""Shared fixtures for the render tests: each picture is drawn once per worker
(tests/helpers/svg.py reads them)."""
from __future__ import annotations

from pathlib import Path

import pytest

from resdsl.render import render
from tests.helpers.svg import resolved


@pytest.fixture(scope="session")
def draw(tmp_path_factory):
    """draw(spec, level, expand) -> the SVG bytes, rendered once per session."""
    out = tmp_path_factory.mktemp("svg")
    cache: dict = {}

    def _draw(spec: str, level: str = "block", expand: bool = False) -> bytes:
        key = (spec, level, expand)
        if key not in cache:
            path = out / f"{Path(spec).stem}-{level}-{int(expand)}.svg"
            render(resolved(spec), path, level=level, expand=expand)
            cache[key] = path.read_bytes()
        return cache[key]
    return _draw
