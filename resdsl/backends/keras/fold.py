"""Which batch norms `fuse_bn` folds into the conv before them in the Keras
backend, and so which layers give the network's outputs. Framework-free: the
emitter writes a folded norm's conv with a bias and no norm, and `trace` /
`layer_shapes` read the conv where the IR has the norm.
"""
from __future__ import annotations

from ...ir import Resolved
from ..common import node_inputs


def fused_norms(resolved: Resolved) -> dict[str, str]:
    """norm node -> the conv it folds into. Not a conv the network returns (its value
    would change), nor, as the PyTorch build (whose blocks of one kind share a
    class), that conv in every block of the same kind; nor a weight-standardised conv,
    whose kernel is standardised again on every call."""
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
                and not g.nodes[ins[0]]["attrs"]["standardize"] and ins[0] not in kept and local(ins[0]) not in kept:
            out[n] = ins[0]
    return out


def output_names(resolved: Resolved, fuse_bn: bool) -> list[str]:
    """The layers whose values the model returns, in order (a folded norm's conv)."""
    folds = fused_norms(resolved) if fuse_bn else {}
    return [folds.get(n, n) for n in resolved.outputs]
