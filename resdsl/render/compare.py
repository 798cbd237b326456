"""What an SVG picture *says*, without where Graphviz put it.

Golden files and the docs gallery are compared through this, so a different
Graphviz version (other coordinates, another version comment) does not fail a
check while any change of names, labels, colours or line styles does.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

# Attributes that carry meaning; coordinates, sizes and transforms are layout.
_KEEP = ("id", "class", "fill", "stroke", "stroke-dasharray", "font-weight", "font-size",
         "{http://www.w3.org/1999/xlink}title")
_AUTO_ID = re.compile(r"^(a_)?(node|edge|clust|graph)\d+$")  # Graphviz's own numbering


def svg_content(svg: str | bytes) -> list[str]:
    """One line per element: tag, meaningful attributes and text, in document order."""
    root = ET.fromstring(svg)
    out = []
    for el in root.iter():
        tag = el.tag.rsplit("}", 1)[-1]
        attrs = [(k.rsplit("}", 1)[-1], v) for k, v in el.attrib.items()
                 if k in _KEEP and not (k == "id" and _AUTO_ID.match(v))]
        text = (el.text or "").strip()
        out.append(f"{tag} {sorted(attrs)} {text!r}" if text else f"{tag} {sorted(attrs)}")
    return out
