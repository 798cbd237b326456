"""Reading the render tests' pictures: SVG groups by kind, their texts and classes."""
from __future__ import annotations

import functools
import xml.etree.ElementTree as ET
from pathlib import Path

import resdsl

TINY = str(Path(__file__).parents[1] / "render" / "tiny.yaml")
NS = "{http://www.w3.org/2000/svg}"


@functools.cache
def resolved(spec: str):
    return resdsl.resolve(spec)


def groups(svg: bytes, kind: str) -> dict[str, ET.Element]:
    """<g> elements whose class starts with `kind` ('node', 'edge', 'cluster'), by id."""
    root = ET.fromstring(svg)
    return {g.get("id"): g for g in root.iter(f"{NS}g") if (g.get("class") or "").split()[:1] == [kind]}


def texts(el: ET.Element) -> list[str]:
    return [t.text for t in el.iter(f"{NS}text") if t.text]


def classes(el: ET.Element) -> list[str]:
    return (el.get("class") or "").split()
