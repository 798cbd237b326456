"""Golden pictures for two small specs. Refresh after an intended change with
`RESDSL_UPDATE_GOLDEN=1 pytest tests/render/test_golden.py`, then look at the
new SVGs before committing them.

DOT must match exactly (it is all ours). SVG is compared through
`svg_content` — ids, classes, texts, colours, dash styles — so a Graphviz
version that places things a few points elsewhere does not fail the test.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from resdsl.render import render, to_dot_source
from resdsl.render.compare import svg_content
from tests.helpers.svg import TINY, resolved

GOLDEN = Path(__file__).parent.parent / "golden" / "render"
UPDATE = os.environ.get("RESDSL_UPDATE_GOLDEN") == "1"
CASES = [("cifar_resnet20", "block"), (TINY, "layer")]


@pytest.mark.parametrize("spec,level", CASES)
def test_dot_and_svg_match_the_golden_files(tmp_path, spec, level):
    r = resolved(spec)
    dot_file, svg_file = GOLDEN / f"{r.name}.{level}.dot", GOLDEN / f"{r.name}.{level}.svg"
    dot = to_dot_source(r, level)
    svg = render(r, tmp_path / "x.svg", level=level).read_text(encoding="utf-8")
    if UPDATE:
        GOLDEN.mkdir(parents=True, exist_ok=True)
        dot_file.write_text(dot, encoding="utf-8")
        svg_file.write_text(svg, encoding="utf-8")
    assert dot == dot_file.read_text(encoding="utf-8"), \
        "DOT changed; if intended, refresh with RESDSL_UPDATE_GOLDEN=1"
    assert svg_content(svg) == svg_content(svg_file.read_text(encoding="utf-8")), \
        "SVG content changed; if intended, refresh with RESDSL_UPDATE_GOLDEN=1"
