"""The IR: names, shapes, padding, shortcuts, block registry, passes."""
import pytest

import resdsl
from resdsl import vocab
from resdsl.ir import PASSES
from resdsl.ir.blocks import BLOCKS, block
from resdsl.ir.ops import same_padding


def test_structural_names_follow_torchvision():
    g = resdsl.resolve("resnet50").graph
    for name in ("conv1", "bn1", "maxpool", "layer1.0.conv1", "layer1.0.downsample.0", "layer1.0.downsample.1",
                 "layer4.2.bn3", "fc"):
        assert name in g
    assert g.nodes["layer2.0.conv2"]["attrs"]["stride"] == (2, 2)  # v1.5: stride on the 3x3
    assert g.nodes["layer2.0.conv1"]["attrs"]["stride"] == (1, 1)


def test_keras_flavour_puts_stride_on_first_1x1():
    g = resdsl.resolve("resnet50_keras").graph
    assert g.nodes["conv3.0.conv1"]["attrs"]["stride"] == (2, 2)
    assert g.nodes["conv3.0.conv2"]["attrs"]["stride"] == (1, 1)
    assert g.nodes["conv3.0.conv1"]["attrs"]["bias"] is True


def test_v2_strides_on_last_block_and_subsamples_its_shortcut():
    r = resdsl.resolve("resnet50v2")
    g = r.graph
    kinds = {b.name: b.shortcut for b in r.blocks}
    assert kinds["conv2.0"] == "projection" and kinds["conv2.2"] == "subsample" and kinds["conv2.1"] == "identity"
    assert kinds["conv5.2"] == "identity"  # keras: the last stage has stride 1
    assert g.nodes["conv2.2.conv2"]["attrs"]["stride"] == (2, 2)
    # The projection reads the pre-activated input and has no norm after it.
    (src,) = g.predecessors("conv2.0.downsample.0")
    assert src == "conv2.0.preact_act"
    assert not any(n.startswith("conv2.0.downsample.1") for n in g)
    assert g.nodes["conv2.0.conv1"]["attrs"]["bias"] is False and g.nodes["conv2.0.conv3"]["attrs"]["bias"] is True


def test_option_a_shortcut_is_parameter_free():
    r = resdsl.resolve("cifar_resnet20")
    g = r.graph
    b = next(b for b in r.blocks if b.name == "layer2.0")
    assert b.shortcut == "zeropad"
    ops = [g.nodes[n]["op"] for n in g if g.nodes[n].get("block") == "layer2.0" and g.nodes[n]["role"] == "shortcut"]
    assert ops == ["subsample", "channel_pad"]
    assert g.nodes["layer2.0.downsample.1"]["shape"] == (32, 16, 16)
    assert g.nodes["layer2.0.downsample.1"]["params"] == 0


def test_every_node_carries_the_documented_attributes():
    r = resdsl.resolve("resnext50_32x4d")
    for _, d in r.graph.nodes(data=True):
        assert {"op", "attrs", "shape", "params", "buffers", "macs", "span", "section", "local", "role"} <= set(d)
        if d["op"] in ("conv", "maxpool", "avgpool", "zeropad"):
            assert len(d["attrs"]["padding"]) == 4
    assert r.graph.nodes["layer1.0.conv2"]["attrs"]["groups"] == 32
    assert r.graph.nodes["layer1.0.conv2"]["attrs"]["filters"] == 128  # int(64 * 4/64) * 32


def test_spans_point_into_the_spec():
    r = resdsl.resolve("resnet50")
    s = r.graph.nodes["layer3.0.conv2"]["span"]
    line = r.spec.source.text.splitlines()[s.line - 1]
    assert "layer3" in line and line[s.column - 1:].startswith("bottleneck")


@pytest.mark.parametrize("size,kernel,stride,expected", [
    (32, 3, 2, (0, 1)), (31, 3, 2, (1, 1)), (224, 7, 2, (2, 3)), (32, 1, 2, (0, 0)), (32, 3, 1, (1, 1))])
def test_same_padding_matches_tensorflow_rule(size, kernel, stride, expected):
    assert same_padding(size, kernel, stride) == expected


def test_passes_are_pure():
    from resdsl.ir.lowering import lower
    spec = resdsl.load_spec("cifar_resnet20")
    g, *_ = lower(spec)
    before = {n: dict(d) for n, d in g.nodes(data=True)}
    out = g
    for p in PASSES:
        out = p(out, None)
    assert {n: dict(d) for n, d in g.nodes(data=True)} == before  # input untouched
    assert all("shape" in d for _, d in out.nodes(data=True))


@pytest.mark.parametrize("name", ["cifar_resnet110", "cifar10_plain30", "seresnet50"])
def test_remembered_shapes_and_counts_are_each_nodes_own(name):
    """The passes work out each (op, attrs, input shapes) once; every node must still
    get what its own op computes from its own attributes and input shapes."""
    from resdsl.ir.ops import OPS
    for n, d in resdsl.resolve(name).graph.nodes(data=True):
        op, a, ins = OPS[d["op"]], d["attrs"], d["in_shapes"]
        assert d["shape"] == op.shape(a, ins), n
        assert (d["params"], d["buffers"], d["macs"]) == (op.params(a, ins), op.buffers(a, ins),
                                                           op.macs(a, ins, d["shape"])), n
        assert a.get("padding_mode") != "same" or a["padding"] is not None


def test_registering_a_block_twice_is_an_error():
    with pytest.raises(ValueError, match="registered twice"):
        block("basic", expansion=1)(lambda *a: None)
    with pytest.raises(ValueError, match="not in resdsl.vocab"):
        block("no_such_block", expansion=1)(lambda *a: None)
    # One list of names: every built-in block the language knows has a lowering, and no other.
    assert set(BLOCKS) == set(vocab.BLOCKS) >= {"basic", "bottleneck", "preact_basic", "preact_bottleneck"}


def test_preact_basic_and_user_nested_blocks(tiny_text):
    text = tiny_text.replace("block: basic", "block: preact_basic")
    r = resdsl.resolve(text)
    assert r.graph.nodes["layer2.0.preact_bn"]["op"] == "norm"
    nested = tiny_text.replace("stages:", """blocks:
  inner:
    main:
      - conv: {filters: $filters, kernel: 3, stride: $stride, padding: same}
      - norm
    shortcut: none
  outer:
    main:
      - block: {type: inner, filters: $filters, stride: $stride}
      - act
      - block: {type: inner, filters: $filters}
stages:""").replace("block: basic, filters: 32", "block: outer, filters: 32")
    r = resdsl.resolve(nested)
    assert "layer2.0.block1.conv1" in r.graph and "layer2.1.block2.norm1" not in r.graph
    assert r.graph.nodes["layer2.0.block1.conv1"]["attrs"]["stride"] == (2, 2)
    assert r.graph.nodes["layer2.0.add"]["shape"] == (32, 16, 16)


def test_resolving_the_deepest_shipped_net_is_linear_sized():
    r = resdsl.resolve("cifar_resnet1202")
    assert len(r.blocks) == 600
    assert len(r.graph) < 8 * 600 + 20
