"""IR passes: pure `Graph -> Graph` functions, run in the order of `PASSES`
(as sqlglot's optimizer RULES). Each returns a new graph; the input is untouched."""
from __future__ import annotations

from typing import Callable

import networkx as nx

from ..errors import SpecError
from .ops import OPS, ShapeError, same_padding


def _inputs(g: nx.DiGraph, n: str) -> list[str]:
    return [u for u, _, _ in sorted(g.in_edges(n, data="port"), key=lambda e: e[2])]


def resolve_padding_and_shapes(g: nx.DiGraph, text: str | None = None) -> nx.DiGraph:
    """Give every node its output shape, turning 'same' padding into four amounts."""
    g = g.copy()
    for n in g.nodes:  # insertion order is a topological order (lowering appends)
        d = g.nodes[n]
        ins = [g.nodes[u]["shape"] for u in _inputs(g, n)]
        attrs = d["attrs"]
        try:
            if attrs.get("padding_mode") == "same":
                x = ins[0]
                if len(x) != 3:
                    raise ShapeError(f"{d['op']} needs a feature map, but its input is a vector")
                (kh, kw), (sh, sw) = attrs["kernel"], attrs["stride"]
                t, bt = same_padding(x[1], kh, sh)
                left, r = same_padding(x[2], kw, sw)
                attrs = attrs.replace(padding=(t, bt, left, r))
                d["attrs"] = attrs
            d["shape"] = OPS[d["op"]].shape(attrs, ins)
            d["in_shapes"] = ins
        except ShapeError as exc:
            raise SpecError.at(d["span"], exc.code, f"'{n}': {exc}", exc.hint, text) from None
    return g


def count(g: nx.DiGraph, text: str | None = None) -> nx.DiGraph:
    """Trainable parameters, non-trainable buffers (BN moving statistics) and MACs."""
    g = g.copy()
    for _, d in g.nodes(data=True):
        op = OPS[d["op"]]
        d["params"] = op.params(d["attrs"], d["in_shapes"])
        d["buffers"] = op.buffers(d["attrs"], d["in_shapes"])
        d["macs"] = op.macs(d["attrs"], d["in_shapes"], d["shape"])
    return g


def check_outputs(g: nx.DiGraph, text: str | None = None) -> nx.DiGraph:
    """Every op must feed one of the network's outputs (`g.graph["outputs"]`; by
    default the last op): a layer whose result nobody reads is a mistake, such as
    a head left in place behind the stages a backbone returns."""
    order = list(g.nodes)
    outputs = g.graph.get("outputs") or order[-1:]
    used = set(outputs)
    for n in reversed(order):  # insertion order is topological: successors come first
        if n not in used and any(v in used for v in g.successors(n)):
            used.add(n)
    unused = [n for n in g.nodes if n not in used]
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
