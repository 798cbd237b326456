"""What `resdsl summary` tells beyond params and MACs, framework-free: each
block's and stage's options (attention, groups, width, drop-path, dropout,
shortcut), the receptive field of every row and the activation memory training
keeps, in text and in `--format json`; and how a new op takes part through
its OpDef row. (Against PyTorch itself: tests/backends/test_summary_footprint.py.)"""
from __future__ import annotations

import json
import math

import pytest

import resdsl
from resdsl.analysis import rows
from resdsl.analysis.memory import saved_bytes, torchinfo_bytes
from resdsl.analysis.receptive import fields
from resdsl.cli import main
from resdsl.ir import OPS
from resdsl.ir.lowering import drop_path_rates
from resdsl.ir.ops import OpDef, _same


def stage_options(name: str, **overrides) -> dict[str, list[str]]:
    return {x.name: x.options for x in rows(resdsl.resolve(name, **overrides), "stage")}


def test_attention_groups_width_and_shortcuts_are_named():
    assert stage_options("seresnet50")["layer1"] == ["se(r=16)", "projection"]
    # timm's SE-ResNet-RS squeezes to a quarter: the ratio is the one built, whatever the spec said
    assert stage_options("resnetrs50")["layer2"] == ["se(r=4)", "avg_down"]
    eca = resdsl.resolve("ecaresnet50d")
    kernel = eca.node("layer3.0.se.conv")["attrs"]["kernel"]
    assert stage_options("ecaresnet50d")["layer3"] == [f"eca(k={kernel})", "avg_down"]
    assert stage_options("resnext50_32x4d")["layer4"] == ["32×4d", "projection"]  # the name's 32x4d on every stage
    assert stage_options("wide_resnet50_2")["layer1"] == ["width×2", "projection"]
    assert stage_options("cifar_resnet20")["layer2"] == ["zeropad"]
    assert stage_options("cifar_plain20")["layer1"] == ["no shortcut"]
    assert stage_options("resnet18")["layer1"] == []  # identity shortcuts, nothing else: plain `basic ×2`


def test_drop_path_reads_as_a_range_per_stage_and_a_rate_per_block():
    r = resdsl.resolve("resnet50", sets=["drop_path_rate=0.05"])
    stages = {x.name: x for x in rows(r, "stage")}
    blocks = {x.name: x for x in rows(r, "block")}
    first = drop_path_rates(0.05, 16)[13]  # timm's linear schedule: layer4.0 is block 13 of 16
    assert stages["layer4"].label == f"bottleneck ×3 · drop-path {first:.3g}–0.05 · projection"
    assert blocks["layer4.2"].label == "bottleneck · drop-path 0.05"
    assert blocks["layer1.0"].label == "bottleneck · drop-path 0 · projection"


def test_options_of_user_blocks_come_from_their_ops(tiny_text):
    """An SE layer written into a user block reads as the built-in attention, dropout
    by its rate, and a grouped conv by its groups."""
    text = tiny_text.replace("stages:", """blocks:
  mine:
    main:
      - conv: {filters: $filters, kernel: 3, stride: $stride, padding: 1, groups: 4}
      - norm
      - act
      - dropout: {rate: 0.2}
      - se: {reduction: 4}
    shortcut: projection
stages:
  - {name: custom, block: mine, filters: 32, repeat: 2}""", 1)
    r = resdsl.resolve(text)
    (row,) = [x for x in rows(r, "stage") if x.name == "custom"]
    assert row.label == "mine ×2 · se(r=4) · groups 4 · dropout 0.2 · projection"


def test_the_summary_shows_options_fields_and_memory(capsys):
    assert main(["summary", "seresnet50", "--level", "stage"]) == 0
    out = capsys.readouterr().out
    r = resdsl.resolve("seresnet50")
    f = fields(r)[next(b for b in r.blocks if b.name == "layer2.3").output]
    line = next(x for x in out.splitlines() if x.startswith("layer2 "))
    assert "bottleneck ×4 · se(r=16) · projection" in line and f"{f.size[0]} /{f.jump[0]} +global" in line
    total = sum(saved_bytes(r).values())
    assert f"Saved for backward: {total / 1e6:.2f} MB per image" in out
    assert f"\"Forward/backward pass size\": {torchinfo_bytes(r) / 1e6:.2f} MB" in out


def test_summary_json_has_the_same_figures(capsys):
    assert main(["summary", "resnet50d", "--level", "block", "--format", "json"]) == 0
    record = json.loads(capsys.readouterr().out)
    r = resdsl.resolve("resnet50d")
    table = rows(r, "block")
    assert record["saved_bytes"] == sum(saved_bytes(r).values()) == sum(x.saved for x in table)
    assert record["torchinfo_forward_backward_bytes"] == torchinfo_bytes(r)
    assert [x["saved_bytes"] for x in record["rows"]] == [x.saved for x in table]
    by_name = {x["name"]: x for x in record["rows"]}
    assert by_name["layer2.0"]["op"] == "bottleneck" and by_name["layer2.0"]["options"] == ["avg_down"]
    last = r.blocks[-1].output
    assert record["receptive_field"] == {"node": last, **fields(r)[last].record()}
    assert by_name["fc"]["receptive_field"]["global"] and not by_name["layer4.2"]["receptive_field"]["global"]


@pytest.mark.parametrize("name", ["resnet50", "resnet10t", "cifar_resnet20", "resnet50v2", "seresnext50_32x4d"])
def test_jump_is_the_downsampling_so_far(name):
    """Where every stride-s op maps n to ceil(n / s), a map's jump is the input size
    over its own: a property of the fields, not a number copied from elsewhere."""
    r = resdsl.resolve(name, input_size=(256, 256))
    for n, f in fields(r).items():
        shape = r.node(n)["shape"]
        if len(shape) == 3 and n != "input" and shape[1:] != (1, 1):  # not a gate's squeezed 1×1
            assert f.jump == (math.ceil(256 / shape[1]), math.ceil(256 / shape[2])), n


def test_a_tensor_kept_by_several_ops_counts_once():
    """resnet18's stem ReLU output is kept by the ReLU and by the max pool; the
    max pool keeps its int64 indices besides, and its output is kept by
    layer1.0.conv1 (the identity shortcut's addition keeps nothing); the BN's
    output is kept by nobody."""
    r = resdsl.resolve("resnet18")
    saved = saved_bytes(r)
    assert saved["relu"] == 4 * math.prod(r.node("relu")["shape"])
    assert saved["maxpool"] == (8 + 4) * math.prod(r.node("maxpool")["shape"])
    assert saved["bn1"] == 0
    assert saved["input"] == 4 * math.prod(r.input_shape)  # conv1 keeps the image


def test_a_new_op_takes_part_through_its_opdef_row(monkeypatch):
    """An op the summary does not know: its attributes' kernel and stride make it a
    window, it keeps its input by default, and blocks name it."""
    from resdsl.ir.attrs import PoolAttrs
    monkeypatch.setitem(OPS, "new_pool", OpDef(PoolAttrs, _same, "new pool", "pool"))
    r = resdsl.resolve("resnet18")
    assert r.blocks  # the block definitions, assembled before the node changes under them
    node = r.graph.nodes["layer2.0.bn1"]
    before = fields(r)["layer2.0.bn1"]
    node["op"], node["attrs"] = "new_pool", PoolAttrs(kernel=(3, 3), stride=(1, 1))
    after = fields(r)["layer2.0.bn1"]
    assert after.size == (before.size[0] + 2 * before.jump[0],) * 2 and after.jump == before.jump
    assert saved_bytes(r)["layer2.0.conv1"] == 4 * math.prod(r.node("layer2.0.conv1")["shape"])
    assert "new_pool" in {x.name: x for x in rows(r, "block")}["layer2.0"].options
    monkeypatch.setitem(OPS, "new_pool", OpDef(PoolAttrs, _same, "new pool", "pool", window=None,
                                               memory=OPS["add"].memory))
    assert fields(r)["layer2.0.bn1"] == before
    assert saved_bytes(r)["layer2.0.conv1"] == 0
