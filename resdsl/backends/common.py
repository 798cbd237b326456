"""What every backend needs from the IR, framework-free: the error for an op a
backend cannot express, a node's inputs, a network's
fingerprint. The block definitions and stage runs emitters write from are the
IR's own (Resolved.defs, StageInfo.runs; see ir/templates.py)."""
from __future__ import annotations

from ..errors import SpecError
from ..ir import Resolved


def unsupported(backend: str, resolved: Resolved, node: str, why: str = "") -> SpecError:
    d = resolved.graph.nodes[node]
    text = resolved.spec.source.text if resolved.spec is not None else None
    msg = f"the {backend} backend cannot express op '{d['op']}' (layer '{node}')"
    return SpecError.at(d["span"], "unsupported-op", msg + (f": {why}" if why else ""), None, text)


def node_inputs(resolved: Resolved, node: str) -> list[str]:
    g = resolved.graph
    return [u for u, _, _ in sorted(g.in_edges(node, data="port"), key=lambda e: e[2])]


def _camel(s: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in s.replace(".", "_").split("_") if part)


# Ops whose layers are built for their input's width (weights, or a per-channel filter).
WIDTH_OPS = ("conv", "norm", "dense", "blur_pool")


def _attrs(d: dict) -> dict:
    """A node's attributes plus `in_channels` for the ops whose weights depend on it."""
    attrs = dict(d["attrs"])
    if d["op"] in WIDTH_OPS:
        attrs["in_channels"] = d["in_shapes"][0][0]
    return attrs


def fingerprint(resolved: Resolved) -> str:
    """A short hash of the network's structure (names, ops, shapes), stamped on
    every built model so `port_weights` can refuse models of different specs."""
    import hashlib
    h = hashlib.sha256()
    for n, d in resolved.graph.nodes(data=True):
        h.update(f"{n}|{d['op']}|{d['shape']}\n".encode())
    return h.hexdigest()[:16]
