"""IR passes: pure `Graph -> Graph` functions, run in the order of `PASSES`
(as sqlglot's optimizer RULES). Each returns a new graph; the input is untouched."""
from __future__ import annotations

from typing import Callable

import networkx as nx

from .. import fastpath
from ..errors import SpecError
from .ops import OPS, ShapeError, effective_kernel, same_padding


def _with_nodes(g: nx.DiGraph, nodes: dict) -> nx.DiGraph:
    """A new graph with g's nodes and edges and the given node attribute dicts.

    The new graph has its own adjacency, so adding or removing nodes and edges in
    either graph never shows in the other. The plain path re-adds every node and
    edge through networkx's public calls, as `g.copy()` does (but keeping the
    order of each node's predecessors too). The fast path
    (resdsl.fastpath) assembles networkx's dict-of-dicts (whose setters keep
    `_succ` and `_adj` one object), taking `nodes` as the node dicts and sharing
    the edge attribute dicts (`port`, `role`, fixed at lowering and never written
    after): re-adding was most of the passes' time on the 4,210 ops of
    cifar_resnet1202 (docs/benchmarks.md)."""
    h = g.__class__()
    h.graph.update(g.graph)
    if not fastpath.enabled():
        h.add_nodes_from(nodes.items())
        # By target, as lowering added them: each node's inputs in port order, and each
        # node's successors in the order they were added.
        h.add_edges_from((u, v, d) for v, into in g.pred.items() for u, d in into.items())
        return h
    h._node = nodes
    h._adj = {u: nbrs.copy() for u, nbrs in g._adj.items()}
    h._pred = {v: nbrs.copy() for v, nbrs in g._pred.items()}
    return h


def _nodes_and_preds(g: nx.DiGraph):
    """(node, data) pairs in insertion order, and node -> {predecessor: edge data}:
    networkx's own dicts on the fast path (no view object per node), its views otherwise."""
    if fastpath.enabled():
        return g._node.items(), g._pred
    return g.nodes(data=True), g.pred


def resolve_padding_and_shapes(g: nx.DiGraph, text: str | None = None) -> nx.DiGraph:
    """Give every node its output shape, turning 'same' padding into four amounts."""
    nodes: dict = {}
    items, pred = _nodes_and_preds(g)
    known: dict = {}  # (op, attrs, input shapes) -> (attrs, shape): see _key
    for n, d in items:  # insertion order is a topological order (lowering appends)
        into = pred[n]
        # Most ops have one input; `add` and `multiply` take theirs in port order.
        ins = [nodes[u]["shape"] for u in (sorted(into, key=lambda u: into[u]["port"]) if len(into) > 1 else into)]
        key = _key(d, ins)
        done = known.get(key)
        if done is None:
            try:
                done = known[key] = _padding_and_shape(d["op"], d["attrs"], ins)
            except ShapeError as exc:
                raise SpecError.at(d["span"], exc.code, f"'{n}': {exc}", exc.hint, text) from None
        nodes[n] = {**d, "attrs": done[0], "shape": done[1], "in_shapes": ins}
    return _with_nodes(g, nodes)


def _key(d: dict, ins: list) -> tuple:
    """What a node's shape and counts depend on: its op, attributes and input shapes.

    The attributes by identity: lowering gives each copy of a repeated block the
    same attrs objects (ir/replay.py), so the 4,210 ops of cifar_resnet1202 have
    45 keys; the graph holds every object, so no id is reused during a
    pass. Hashing attrs by value cost more than the shape functions it saved."""
    return (d["op"], id(d["attrs"]), *ins)


def _padding_and_shape(op: str, attrs, ins: list) -> tuple:
    """(attrs with a 'same' padding made four amounts, output shape)."""
    if attrs.get("padding_mode") == "same":
        x = ins[0]
        if len(x) != 3:
            raise ShapeError(f"{op} needs a feature map, but its input is a vector")
        (kh, kw), (sh, sw) = effective_kernel(attrs), attrs["stride"]
        t, bt = same_padding(x[1], kh, sh)
        left, r = same_padding(x[2], kw, sw)
        attrs = attrs.replace(padding=(t, bt, left, r))
    return attrs, OPS[op].shape(attrs, ins)


def count(g: nx.DiGraph, text: str | None = None) -> nx.DiGraph:
    """Trainable parameters, non-trainable buffers (BN moving statistics) and MACs."""
    nodes = {}
    known: dict = {}  # as in resolve_padding_and_shapes
    for n, d in _nodes_and_preds(g)[0]:
        ins = d["in_shapes"]
        key = _key(d, ins)
        counts = known.get(key)
        if counts is None:
            op, attrs = OPS[d["op"]], d["attrs"]
            counts = known[key] = (op.params(attrs, ins), op.buffers(attrs, ins), op.macs(attrs, ins, d["shape"]))
        nodes[n] = {**d, "params": counts[0], "buffers": counts[1], "macs": counts[2]}
    return _with_nodes(g, nodes)


def check_outputs(g: nx.DiGraph, text: str | None = None) -> nx.DiGraph:
    """Every op must feed one of the network's outputs (`g.graph["outputs"]`; by
    default the last op): a layer whose result nobody reads is a mistake, such as
    a head left in place behind the stages a backbone returns."""
    order = list(g)
    outputs = g.graph.get("outputs") or order[-1:]
    # The outputs and every op with a path to one: a walk back along the predecessors, each edge once.
    pred, used, todo = _nodes_and_preds(g)[1], set(outputs), list(outputs)
    while todo:
        for u in pred[todo.pop()]:
            if u not in used:
                used.add(u)
                todo.append(u)
    unused = [n for n in order if n not in used]
    if unused:
        n = unused[0]
        names = g.graph.get("output_names") or outputs
        more = {1: "", 2: ", nor does the layer after it"}.get(len(unused), f", nor do the {len(unused) - 1} "
                                                                          "layers after it")
        where = f" (stage '{g.nodes[n]['stage']}')" if g.nodes[n].get("stage") else ""
        raise SpecError.at(g.nodes[n]["span"], "unused-layer",
                           f"layer '{n}'{where} feeds no output{more}; the outputs are {', '.join(names)}",
                           "remove the layers after the last output (a backbone without a classifier: "
                           "`head: []`), or name them in `outputs:`", text)
    return g


PASSES: list[Callable[..., nx.DiGraph]] = [resolve_padding_and_shapes, count, check_outputs]


def run_passes(g: nx.DiGraph, text: str | None = None) -> nx.DiGraph:
    for p in PASSES:
        g = p(g, text)
    return g
