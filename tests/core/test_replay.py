"""Replaying repeated blocks (ir/replay.py) builds exactly the network that
lowering every block anew builds: the same nodes in the same order, attributes
(values and types), spans, shapes, counts, edges, block templates and block
definitions, and the same errors."""
import pytest

import resdsl
from resdsl.errors import SpecError
from resdsl.ir import blocks as ir_blocks
from resdsl.ir.lowering import lower
from resdsl.ir.passes import run_passes
from resdsl.ir.templates import assemble
from resdsl.spec.limits import DEFAULT_LIMITS

# What each spec brings to a stage: strides and projections in the first block, option-A
# zero-padding (cifar_resnet*), ResNet-D's avg_down (resnet50d), the stride on a stage's last
# block (resnet50v2), channel attention (seresnet50, ecaresnet50d), grouped convs
# (seresnext50_32x4d), and user-defined blocks (cifar10_resnet30, resnetv2_50, wrn28_10).
SPECS = ["cifar_resnet1202", "cifar_resnet20", "resnet50", "resnet50d", "resnet50v2", "resnet101_keras",
         "seresnet50", "ecaresnet50d", "seresnext50_32x4d", "cifar10_resnet30", "cifar10_plain30", "resnetv2_50",
         "wrn28_10"]
# A drop-path rate differs from block to block (timm's schedule), so no two calls match.
DROP_PATH = [("resnet50", ["drop_path_rate=0.1"]), ("cifar_resnet56", ["drop_path_rate=0.2"]),
             ("resnetv2_50", ["drop_path_rate=0.05"])]


def _described(v):
    """A value with its type and, for a block template's symbolic values, their text."""
    if isinstance(v, tuple):
        return tuple(_described(x) for x in v)
    return (type(v).__name__, repr(v), getattr(v, "text", None))


def _attrs(a):
    return (type(a).__name__, [(k, _described(v)) for k, v in a.items()])


def _template(nodes):
    return [(t.local, t.op, t.inputs, t.role, _attrs(t.attrs)) for t in nodes]


def _network(spec, replay: bool):
    g, out, blocks, stages, recordings = lower(spec, replay=replay)
    g = run_passes(g, spec.source.text)
    nodes = [(n, [(k, _attrs(v) if k == "attrs" else v) for k, v in d.items()]) for n, d in g.nodes(data=True)]
    edges = [(u, v, list(d.items())) for u, v, d in g.edges(data=True)]
    preds = [(n, list(g.pred[n])) for n in g]
    recs = [(r.kind, r.prefix, r.input, list(r.params.items()), r.lets, _template(r.nodes), sorted(r.optional),
             r.shortcut_add, r.shortcut_kind) for r in recordings]
    defs, blocks2, stages2 = assemble(g, blocks, stages, recordings)
    definitions = [(name, d.kind, d.params, list(d.defaults.items()), d.lets, _template(d.nodes),
                    [(k, _template(v)) for k, v in d.variants.items()], d.optional, d.output, d.instances)
                   for name, d in defs.items()]
    totals = [sum(d[k] for _, d in g.nodes(data=True)) for k in ("params", "buffers", "macs")]
    return {"nodes": nodes, "edges": edges, "preds": preds, "graph": dict(g.graph), "output": out,
            "blocks": blocks, "stages": stages, "recordings": recs, "definitions": definitions,
            "assembled": (blocks2, stages2), "totals": totals, "count": (len(g), g.number_of_edges())}


def _assert_same(spec):
    replayed, lowered = _network(spec, True), _network(spec, False)
    for key in lowered:
        assert replayed[key] == lowered[key], key


@pytest.mark.parametrize("name", SPECS)
def test_replayed_network_equals_lowered_network(name):
    _assert_same(resdsl.load_spec(name))


@pytest.mark.parametrize("name, sets", DROP_PATH, ids=[n for n, _ in DROP_PATH])
def test_drop_path_rates_that_vary_per_block(name, sets):
    spec = resdsl.load_spec(name, sets=sets)
    _assert_same(spec)
    g, *_ = lower(spec)
    rates = [d["attrs"]["rate"] for _, d in g.nodes(data=True) if d["op"] == "drop_path"]
    assert len(set(rates)) == len(rates) > 1


def _counting(monkeypatch):
    calls = []
    for name, kind in list(ir_blocks.BLOCKS.items()):
        def counted(b, c, ctx, _lower=kind.lower):
            calls.append(c)
            return _lower(b, c, ctx)
        monkeypatch.setitem(ir_blocks.BLOCKS, name, ir_blocks.BlockKind(counted, kind.expansion, kind.description))
    return calls


def test_blocks_called_alike_are_replayed(monkeypatch):
    calls = _counting(monkeypatch)
    spec = resdsl.load_spec("cifar_resnet1202")
    lower(spec)
    # layer1 takes the stem's 16 channels at stride 1: its first block is lowered and 199 copied.
    # layer2 and layer3 change width and stride in their first block: two lowered, 198 copied.
    assert len(calls) == 5
    calls.clear()
    lower(spec, replay=False)
    assert len(calls) == 600
    calls.clear()
    lower(resdsl.load_spec("resnet50", sets=["drop_path_rate=0.1"]))
    assert len(calls) == 16  # every block has its own rate


def _error(spec, replay: bool) -> str:
    with pytest.raises(SpecError) as info:
        lower(spec, replay=replay)
    return str(info.value)


@pytest.mark.parametrize("where, name", [("stem", "layer1.3"), ("stem", "layer1.3.conv1"), ("stem", "layer1.3.conv1.x"),
                                         ("stem", "layer1.3.downsample"), ("head", "layer1.3"),
                                         ("head", "layer1.3.bn2"), ("head", "layer2.2.downsample")])
def test_a_name_clash_in_a_replayed_block_reads_as_before(tiny_text, where, name):
    """A stem layer is named before the blocks, a head layer after them: each clash
    (a layer's name taken, a layer named as a group, a group named as a layer) must
    be found in a copied block, or after it, as where every block is lowered."""
    layer = "conv: {filters: 16, kernel: 3, padding: 1" if where == "stem" else "dense: {units: 10"
    text = tiny_text.replace(layer + "}", f"{layer}, name: {name}}}")
    text = text.replace("repeat: 2}", "repeat: 5}")
    spec = resdsl.load_spec(text)
    if name.endswith("downsample"):  # a group only where a block projects: no clash
        _assert_same(spec)
        return
    message = _error(spec, True)
    assert message == _error(spec, False) and name.rsplit(".", 1)[0] in message


def test_replay_copies_every_field_of_a_recording():
    """Replay.apply copies a recorded template field by field: a new field of
    Recording must be copied there too (and compared in _network above)."""
    from dataclasses import fields

    from resdsl.ir.graph import Recording
    assert [f.name for f in fields(Recording)] == ["kind", "prefix", "input", "params", "lets", "nodes", "optional",
                                                   "shortcut_add", "shortcut_kind"]


def test_the_node_limit_in_a_replayed_block_reads_as_before(tiny_text):
    text = tiny_text.replace("{block: basic, filters: 16, repeat: 2}", "{block: basic, filters: 16, repeat: 6}")
    spec = resdsl.load_spec(text, DEFAULT_LIMITS.with_overrides({"max_graph_nodes": 30}))
    message = _error(spec, True)
    assert message == _error(spec, False) and "more than 30 ops" in message
