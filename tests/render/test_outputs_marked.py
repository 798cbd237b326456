"""A spec's `outputs:` in pictures: every level marks the nodes that are (or
hold) outputs, with their number and name, and the title lists them."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

import resdsl
from resdsl.ir import fmt
from resdsl.render import render
from resdsl.render.dot import LEGEND
from tests.helpers.svg import NS, classes, groups, texts

TAPPED = """\
extends: cifar_resnet20
name: tapped
outputs: [relu, layer1, layer2.1, layer2.2.conv2, layer3, fc]
"""
# The view node holding each output, per level (runs of identical blocks fold at block level).
HOLDERS = {
    "layer": None,  # the IR nodes themselves
    "block": ["relu", "layer1.0-2", "layer2.1-2", "layer2.1-2", "layer3.1-2", "fc"],
    "stage": ["relu", "layer1", "layer2", "layer2", "layer3", "fc"],
}


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    out = tmp_path_factory.mktemp("outputs")
    (out / "tapped.yaml").write_text(TAPPED)
    r = resdsl.resolve(str(out / "tapped.yaml"))
    svgs = {level: render(r, out / f"{level}.svg", level=level).read_bytes() for level in HOLDERS}
    return r, svgs


@pytest.mark.parametrize("level", list(HOLDERS))
def test_every_level_marks_the_outputs(pictures, level):
    r, svgs = pictures
    nodes = groups(svgs[level], "node")
    holders = HOLDERS[level] or r.outputs
    marked = {vid for vid, g in nodes.items() if "output" in classes(g)}
    assert marked == set(holders)
    for i, (name, vid) in enumerate(zip(r.output_names, holders), start=1):
        assert f"▶ output {i}: {name}" in texts(nodes[vid]), (level, name)
    assert any("an output of the network" in t for t in texts(groups(svgs[level], "node")[LEGEND]))


def test_the_title_lists_the_outputs(pictures):
    r, svgs = pictures
    root = ET.fromstring(svgs["stage"])
    title = " ".join(t.text for t in root.find(f"{NS}g").findall(f"{NS}text"))
    assert "6 outputs" in title
    assert f"1. relu {fmt(r.output_shapes[0])}, 2. layer1" in title and f"6. fc {fmt((10,))}" in title


def test_a_network_without_outputs_key_is_drawn_as_before(draw):
    svg = draw("cifar_resnet20", "block")
    assert not any("output" in classes(g) for g in groups(svg, "node").values())
    assert "▶".encode() not in svg
