"""Shared fixtures for the render tests: each picture is drawn once per worker."""
from __future__ import annotations

import functools
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import resdsl
from resdsl.render import render

HERE = Path(__file__).parent
TINY = str(HERE / "tiny.yaml")
NS = "{http://www.w3.org/2000/svg}"


@functools.cache
def resolved(spec: str):
    return resdsl.resolve(spec)


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


def groups(svg: bytes, kind: str) -> dict[str, ET.Element]:
    """<g> elements whose class starts with `kind` ('node', 'edge', 'cluster'), by id."""
    root = ET.fromstring(svg)
    return {g.get("id"): g for g in root.iter(f"{NS}g") if (g.get("class") or "").split()[:1] == [kind]}


def texts(el: ET.Element) -> list[str]:
    return [t.text for t in el.iter(f"{NS}text") if t.text]


def classes(el: ET.Element) -> list[str]:
    return (el.get("class") or "").split()
