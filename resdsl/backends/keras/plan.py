"""The framework-free part of the Keras backend: which layers a resolved IR
becomes, as plain data (JSON-able, so it is also the saved layer config).

The plan is the top-level sequence of stem nodes, one entry per stage (its
blocks, each a list of nodes) and head nodes. With `fuse_bn`, a BatchNorm that
directly follows a conv (and is that conv's only consumer) is folded away: the
conv gets a bias and consumers read the conv.
"""
from __future__ import annotations

from ...ir import Resolved
from ...vocab import DENSE_ACTIVATIONS
from ..common import node_inputs, unsupported
from .rules import LAYERS

BACKEND = "keras"
# The table's ops, plus those the emitter writes by hand (its `_layer`): a new op is a row in rules.LAYERS.
SUPPORTED = set(LAYERS) | {"input", "conv", "norm", "maxpool", "zeropad", "dense"}
ACTIVATIONS = set(DENSE_ACTIVATIONS)


def _jsonable(v):
    if isinstance(v, tuple):
        return [_jsonable(x) for x in v]
    return v


def fused_norms(resolved: Resolved) -> dict[str, str]:
    """norm node -> the conv it folds into. Not a conv the network returns (its value
    would change), nor, as the PyTorch build (whose blocks of one kind share a
    class), that conv in every block of the same kind."""
    g = resolved.graph
    defs = {b.name: b.block_def for b in resolved.blocks}

    def local(node: str):  # (block definition, name inside the block) of a block's node
        b = g.nodes[node].get("block")
        return (defs[b], node[len(b) + 1:]) if b in defs else None

    kept = set(resolved.outputs) | ({local(n) for n in resolved.outputs} - {None})
    out = {}
    for n, d in g.nodes(data=True):
        if d["op"] != "norm" or d["attrs"]["type"] != "batchnorm":  # group norm has no running statistics
            continue
        ins = node_inputs(resolved, n)
        if len(ins) == 1 and g.nodes[ins[0]]["op"] == "conv" and g.out_degree(ins[0]) == 1 \
                and ins[0] not in kept and local(ins[0]) not in kept:
            out[n] = ins[0]
    return out


def check(resolved: Resolved) -> None:
    """Every op and attribute the Keras backend cannot express, as a located error."""
    g = resolved.graph
    for n, d in g.nodes(data=True):
        op, a = d["op"], d["attrs"]
        if op not in SUPPORTED:
            raise unsupported(BACKEND, resolved, n)
        if op == "norm" and a.get("type", "batchnorm") not in ("batchnorm", "groupnorm"):
            raise unsupported(BACKEND, resolved, n, f"norm type '{a.get('type')}'")
        if op in ("act", "dense") and a.get("fn", a.get("activation", "linear")) not in ACTIVATIONS:
            raise unsupported(BACKEND, resolved, n, "unknown activation")
        if op in ("conv", "maxpool") and any(a["padding"]) and f"{n}_pad" in g:
            raise unsupported(BACKEND, resolved, n, f"its padding layer would be named '{n}_pad', "
                                                    "which another layer already uses")
    names = set(g)
    for st in resolved.stages:
        if st.name in names:
            raise unsupported(BACKEND, resolved, resolved.blocks[0].input,
                              f"stage '{st.name}' has the same name as a layer")


def entry(resolved: Resolved, n: str, alias: dict[str, str], fused: set[str]) -> dict:
    d = resolved.graph.nodes[n]
    attrs = {k: _jsonable(v) for k, v in d["attrs"].items() if not k.startswith("_") and k != "padding_mode"}
    if n in fused:
        attrs["bias"] = True
    ins = [alias.get(u, u) for u in node_inputs(resolved, n)]
    return {"name": n, "op": d["op"], "attrs": attrs, "inputs": ins,
            "in_shape": list(d["in_shapes"][0]) if d["in_shapes"] else [], "shape": list(d["shape"])}


def plan(resolved: Resolved, fuse_bn: bool = False) -> list[dict]:
    """[{"kind": "node", ...entry} | {"kind": "stage", "name", "input", "output", "blocks": [...], "taps"}]

    An output of the network inside a stage, other than its last, is one of the
    stage's `taps`: the block holding it returns it beside its own output."""
    check(resolved)
    g = resolved.graph
    folds = fused_norms(resolved) if fuse_bn else {}
    alias, fused = dict(folds), set(folds.values())
    block_of = {b.name: b for b in resolved.blocks}
    stage_of_block = {b: st for st in resolved.stages for b in st.blocks}
    top: list[dict] = []
    blocks: dict[str, dict] = {}
    for n, d in g.nodes(data=True):
        if n in alias or d["op"] == "input":
            continue
        b = d.get("block")
        if b is None or b not in stage_of_block:
            top.append({"kind": "node", **entry(resolved, n, alias, fused)})
            continue
        if b not in blocks:
            info = block_of[b]
            blocks[b] = {"name": b, "input_name": alias.get(info.input, info.input),
                         "output_name": alias.get(info.output, info.output), "nodes": []}
            st = stage_of_block[b]
            if not top or top[-1].get("name") != st.name:
                top.append({"kind": "stage", "name": st.name, "blocks": []})
            top[-1]["blocks"].append(blocks[b])
        blocks[b]["nodes"].append(entry(resolved, n, alias, fused))
    stage_out = {}
    for item in top:
        if item["kind"] == "stage":
            item["input"] = item["blocks"][0]["input_name"]
            item["output"] = stage_out[item["name"]] = item["blocks"][-1]["output_name"]
            item["taps"] = []
    for n in resolved.outputs:
        b, name = g.nodes[n].get("block"), alias.get(n, n)
        if b in blocks and name != stage_out[stage_of_block[b].name]:
            blocks[b].setdefault("taps", []).append(name)
    for item in top:
        if item["kind"] == "stage":
            item["taps"] = [t for b in item["blocks"] for t in b.get("taps", ())]
    return top


def output_names(resolved: Resolved, fuse_bn: bool) -> list[str]:
    """The layers whose values the model returns, in order (a folded norm's conv)."""
    folds = fused_norms(resolved) if fuse_bn else {}
    return [folds.get(n, n) for n in resolved.outputs]
