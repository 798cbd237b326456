"""What the rendered SVG says: ids, shapes on edges, shortcut kinds, runs, title."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from resdsl.io import MARKER
from resdsl.ir import fmt
from resdsl.render import RenderError, to_dot_source
from resdsl.render.dot import LEGEND
from resdsl.render.style import DOWN, SHORTCUTS
from tests.helpers.svg import NS, TINY, classes, groups, resolved, texts


def _top_level(r) -> set[str]:
    return {n for n, s in r.graph.nodes(data="section") if s != "stage"}


def _view_ids(svg: bytes) -> set[str]:
    return set(groups(svg, "node")) - {LEGEND}


@pytest.mark.parametrize("spec", [TINY, "cifar_resnet20", "resnet50v2", "cifar10_resnet30"])
@pytest.mark.parametrize("level", ["stage", "block", "layer"])
def test_valid_xml_with_marker_up_front(draw, spec, level):
    svg = draw(spec, level)
    root = ET.fromstring(svg)
    assert root.tag == f"{NS}svg"
    assert MARKER.encode() in svg[:4096]


@pytest.mark.parametrize("spec", [TINY, "cifar10_resnet30"])
def test_layer_level_has_one_node_per_ir_op(draw, spec):
    r = resolved(spec)
    assert _view_ids(draw(spec, "layer")) == set(r.graph.nodes)


@pytest.mark.parametrize("spec", [TINY, "resnet50"])
def test_expanded_block_level_has_one_node_per_block(draw, spec):
    r = resolved(spec)
    assert _view_ids(draw(spec, "block", expand=True)) == _top_level(r) | {b.name for b in r.blocks}


@pytest.mark.parametrize("spec", [TINY, "resnet50"])
def test_stage_level_has_one_node_per_stage(draw, spec):
    r = resolved(spec)
    assert _view_ids(draw(spec, "stage")) == _top_level(r) | {s.name for s in r.stages}


def test_runs_of_identical_blocks_fold_into_one_node(draw):
    nodes = groups(draw("resnet50", "block"), "node")
    assert "bottleneck ×5" in texts(nodes["layer3.1-5"])
    assert "layer3.0" in nodes  # the projection block differs, so it stays apart
    assert not {"layer3.1", "layer3.2", "layer3.5"} & set(nodes)
    assert len(_view_ids(draw("resnet50", "block"))) == len(_top_level(resolved("resnet50"))) + 8


def _ir_output(r, vid: str) -> str:
    """The IR node whose output leaves view node `vid` (computed from the IR, not the renderer)."""
    blocks = {b.name: b for b in r.blocks}
    if vid in r.graph:
        return vid
    if vid in blocks:
        return blocks[vid].output
    if "-" in vid:
        first, last = vid.split("-")
        return blocks[f"{first.rsplit('.', 1)[0]}.{last}"].output
    return blocks[next(s for s in r.stages if s.name == vid).blocks[-1]].output


def _first_block(r, vid: str) -> str:
    if "-" in vid:
        return vid.split("-")[0]
    stage = next((s for s in r.stages if s.name == vid), None)
    return stage.blocks[0] if stage else vid


@pytest.mark.parametrize("spec,level", [(TINY, "layer"), (TINY, "block"), (TINY, "stage"),
                                        ("resnet50", "block"), ("resnet50v2", "stage"),
                                        ("cifar_resnet20", "layer"), ("cifar10_resnet30", "block")])
def test_edge_labels_are_the_ir_shapes(draw, spec, level):
    r = resolved(spec)
    edges = groups(draw(spec, level), "edge")
    assert edges
    for eid, el in edges.items():
        src, _, dst = eid.partition("->")
        dst, _, tag = dst.partition("#")
        label = texts(el)[-1]
        if tag == "shortcut" and level != "layer":
            # a block/stage node's shortcut edge carries what reaches the addition
            expected = r.graph.nodes[f"{_first_block(r, dst)}.add"]["in_shapes"][1]
        else:
            expected = r.graph.nodes[_ir_output(r, src)]["shape"]
        assert label == fmt(expected), eid


def _shortcut_looks(svg: bytes) -> dict[str, set]:
    looks: dict[str, set] = {}
    for el in groups(svg, "edge").values():
        if classes(el)[1] == "shortcut":
            path = el.find(f"{NS}path")
            looks.setdefault(classes(el)[2], set()).add((path.get("stroke"), path.get("stroke-dasharray")))
    return looks


@pytest.mark.parametrize("level", ["layer", "block"])
def test_each_shortcut_kind_has_its_own_look(draw, level):
    looks = _shortcut_looks(draw(TINY, level))
    assert set(looks) == {"identity", "projection", "zeropad", "subsample"}
    assert all(len(v) == 1 for v in looks.values()), looks  # one look per kind
    assert len({next(iter(v)) for v in looks.values()}) == 4  # and no two kinds alike
    for kind, v in looks.items():
        assert next(iter(v))[0] == SHORTCUTS[kind].color
    main = [el.find(f"{NS}path") for el in groups(draw(TINY, level), "edge").values() if "main" in classes(el)]
    assert main and all(p.get("stroke-dasharray") is None for p in main)


def test_shortcut_edges_are_labelled_with_their_kind(draw):
    edges = groups(draw(TINY, "block"), "edge")
    labels = {classes(el)[2]: " ".join(texts(el)) for el in edges.values() if "shortcut" in classes(el)}
    assert labels["projection"].startswith("projection: conv 1×1, 16 /2")
    assert labels["zeropad"].startswith("zero-pad, option A: subsample /2 → +16 zero channels")
    assert labels["subsample"].startswith("subsample /2")
    assert labels["identity"].startswith("identity")


def test_plain_twin_draws_no_shortcut(draw):
    edges = groups(draw("cifar_plain20", "block"), "edge")
    assert edges and not [e for e in edges.values() if "shortcut" in classes(e)]
    assert "no shortcut" in " ".join(texts(groups(draw("cifar_plain20", "block"), "node")["layer2.0"]))


def test_v2_projection_is_marked_as_reading_the_pre_activation(draw):
    edges = groups(draw("resnet50v2", "block"), "edge")
    assert "(from the pre-activation)" in " ".join(texts(edges["pool1_pool->conv2.0#shortcut"]))


def test_title_clusters_and_legend(draw):
    r = resolved("resnet50")
    svg = draw("resnet50", "block")
    root = ET.fromstring(svg)
    title = " ".join(t.text for t in root.find(f"{NS}g").findall(f"{NS}text"))
    assert "resnet50" in title and f"{r.params:,} trainable parameters" in title and "4.09 GMACs" in title
    clusters = groups(svg, "cluster")
    assert {"cluster-stem", "cluster-head", "cluster-layer1", "cluster-layer4"} <= set(clusters)
    assert texts(clusters["cluster-layer2"])[0] == "layer2 · bottleneck ×4 · stride 2"
    legend = " ".join(texts(groups(svg, "node")[LEGEND]))
    assert "identity" in legend and "projection (1×1 conv)" in legend and "zero-pad" not in legend


def test_downsampling_is_visible(draw):
    nodes = groups(draw("resnet50", "block"), "node")
    for name, down in [("layer2.0", True), ("maxpool", True), ("layer1.0", False), ("layer3.1-5", False)]:
        shape = next(el for el in nodes[name].iter() if el.tag in (f"{NS}path", f"{NS}polygon"))
        assert (shape.get("stroke") == DOWN) == down, name
        assert any("↓ /2" in t for t in texts(nodes[name])) == down, name


def test_layer_nodes_show_op_attributes_and_shape(draw):
    nodes = groups(draw("resnext50_32x4d", "layer"), "node")
    words = texts(nodes["layer2.0.conv2"])
    assert words == ["conv2", "conv 3×3, 256", "groups 32", "↓ /2 (downsamples)", "256×28×28"]
    assert texts(nodes["conv1"])[1:] == ["conv 7×7, 64", "↓ /2 (downsamples)", "64×112×112"]


def test_keras_same_padding_asymmetry_is_shown(draw):
    nodes = groups(draw("cifar10_resnet30", "layer"), "node")
    assert "pad 0,1,0,1 (t,b,l,r)" in texts(nodes["layer2.0.conv1"])


def test_deepest_network_renders_at_stage_and_block_level(draw):
    r = resolved("cifar_resnet1202")
    assert len(_view_ids(draw("cifar_resnet1202", "stage"))) == len(_top_level(r)) + 3
    nodes = groups(draw("cifar_resnet1202", "block"), "node")
    assert "basic ×199" in texts(nodes["layer2.1-199"])


def test_too_many_nodes_is_a_clear_error_not_a_hang():
    r = resolved("cifar_resnet1202")
    with pytest.raises(RenderError) as info:
        to_dot_source(r, "layer")
    assert "4,210 nodes" in str(info.value) and "--level stage" in info.value.hint
    assert "--max-nodes 4210" in info.value.hint
    with pytest.raises(RenderError) as info:
        to_dot_source(r, "block", expand=True, max_nodes=500)
    assert "without --expand" in info.value.hint
    assert to_dot_source(resolved(TINY), "layer", max_nodes=len(resolved(TINY).graph))


NESTED = str(TINY).replace("tiny.yaml", "nested.yaml")


def test_nested_user_blocks_and_custom_shortcuts(draw):
    r = resolved(NESTED)
    edges = groups(draw(NESTED, "layer"), "edge")
    kinds = {eid: classes(el)[2] for eid, el in edges.items() if "shortcut" in classes(el)}
    # the inner block's identity is an identity even though the outer block's shortcut is custom or none
    assert kinds["layer1.0.conv1->layer1.0.block1.add#shortcut"] == "identity"
    assert kinds["layer2.1.conv1->layer2.1.block1.add#shortcut"] == "identity"
    assert kinds["layer1.0.shortcut.conv1->layer1.0.add#shortcut"] == "custom"
    assert _view_ids(draw(NESTED, "layer")) == set(r.graph.nodes)
    block = groups(draw(NESTED, "block"), "edge")
    assert " ".join(texts(block["conv1->layer1.0#shortcut"])) == "custom shortcut: avgpool 2×2 → conv 1×1, 16 16×8×8"
    assert "layer2.0-1" in groups(draw(NESTED, "block"), "node")  # the plain stage: one folded node,
    assert not [e for e in block if e.endswith("layer2.0-1#shortcut")]  # and no shortcut edge into it
