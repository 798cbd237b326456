"""RESDSL_FASTPATH=0 (networkx's public API only) and =1 (its private dicts, where
bench/ir_fastpaths.py shows they pay) resolve every spec to the same graph: nodes in
the same order with the same data (attrs, shapes, counts, spans), the same edges
with their data and port order, the same totals, block definitions and emitted
source."""
import networkx as nx
import pytest

import resdsl
from resdsl import fastpath
from resdsl.ir.graph import Builder
from tests.helpers.specs import EDGE

SPECS = ["cifar_resnet20", "cifar_resnet110", "cifar10_resnet30", "resnet50", "resnet50v2", "resnext50_32x4d",
         "seresnext50_32x4d", "ecaresnet50d", "resnet10t", "resnetv2_50d", "wrn28_10", EDGE]


def _resolved(monkeypatch, spec, value: str):
    monkeypatch.setenv(fastpath.ENV, value)
    assert fastpath.enabled() == (value == "1") and Builder(nx.DiGraph()).fast == (value == "1")
    return resdsl.resolve(spec)


def _picture(r):
    g = r.graph
    return {
        "nodes": list(g.nodes(data=True)),  # order and data (attrs compare by value and class)
        "edges": list(g.edges(data=True)),
        "preds": {n: list(g.pred[n].items()) for n in g},  # inputs in port order
        "succs": {n: list(g.succ[n]) for n in g},
        "graph": dict(g.graph),
        "totals": (r.params, r.buffers, r.macs, r.output_shape, r.outputs),
    }


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s if "\n" not in s else "edge")
def test_the_plain_and_the_fast_path_resolve_the_same_graph(monkeypatch, spec):
    plain = _resolved(monkeypatch, spec, "0")
    fast = _resolved(monkeypatch, spec, "1")
    a, b = _picture(plain), _picture(fast)
    for key in a:
        assert a[key] == b[key], key
    assert all(type(x[1]["attrs"]) is type(y[1]["attrs"]) for x, y in zip(a["nodes"], b["nodes"]))
    assert plain.blocks == fast.blocks and plain.stages == fast.stages
    for backend in ("torch", "keras"):
        assert resdsl.emit(plain, backend=backend) == resdsl.emit(fast, backend=backend), backend


def test_each_pass_leaves_its_input_graph_alone(monkeypatch):
    """A pass returns a new graph whose adjacency is its own, on both paths."""
    from resdsl.ir.lowering import lower
    from resdsl.ir.passes import count, resolve_padding_and_shapes
    for value in ("0", "1"):
        monkeypatch.setenv(fastpath.ENV, value)
        g = lower(resdsl.load_spec("cifar_resnet20"))[0]
        before = (list(g.nodes(data=True)), list(g.edges(data=True)))
        h = resolve_padding_and_shapes(g)
        k = count(h)
        assert (list(g.nodes(data=True)), list(g.edges(data=True))) == before
        assert "shape" not in g.nodes["conv1"] and "params" not in h.nodes["conv1"] and "params" in k.nodes["conv1"]
        k.add_edge("conv1", "fc")
        assert not h.has_edge("conv1", "fc") and not g.has_edge("conv1", "fc")
