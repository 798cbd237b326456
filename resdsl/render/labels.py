"""Short human text for ops, blocks and counts — what a node says about itself.

The notation follows the ResNet paper's tables ("3×3, 64", "/2") so a diagram
reads like Table 1 of He et al. 2016.
"""
from __future__ import annotations

from ..ir import OPS, fmt


def human(n: int) -> str:
    """25557032 -> '25.6 M'; small numbers stay exact."""
    for div, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= div:
            return f"{n / div:.3g} {unit}"
    return str(n)


def _k(pair) -> str:
    return f"{pair[0]}×{pair[1]}"


def stride_of(op: str, attrs: dict) -> int:
    """How much an op shrinks the feature map (its row stride; 1 if it does not)."""
    if op in ("conv", "maxpool", "avgpool"):
        return attrs["stride"][0]
    if op in ("subsample", "blur_pool"):
        return attrs["stride"]
    return 1


def conv_short(attrs: dict, with_stride: bool = True) -> str:
    """'3×3, 64 /2 g32' — one conv in a chain."""
    s = f"{_k(attrs['kernel'])}, {attrs['filters']}"
    if with_stride and attrs["stride"][0] > 1:
        s += f" /{attrs['stride'][0]}"
    if attrs["groups"] > 1:
        s += f" g{attrs['groups']}"
    return s


def op_title(op: str, a: dict) -> str:
    """The bold first line of a layer node (the op's OpDef label)."""
    return OPS[op].title(a) if op in OPS else op


def op_details(op: str, a: dict) -> list[str]:
    """Attribute lines under the title: only what differs from the obvious."""
    return OPS[op].details(a) if op in OPS else []


def op_tooltip(name: str, d: dict) -> str:
    a = {k: v for k, v in d["attrs"].described().items() if k != "padding_mode"}
    parts = [name, f"{d['op']} {a}" if a else d["op"], f"output {fmt(d['shape'])}"]
    if d.get("params"):
        parts.append(f"params {d['params']:,}")
    if d.get("macs"):
        parts.append(f"MACs {d['macs']:,}")
    return "\n".join(parts)


def shortcut_path(g, nodes: list[str]) -> str:
    """'1×1, 512 /2 → batchnorm': the ops on a shortcut path, for block/stage labels."""
    parts = []
    for n in nodes:
        d = g.nodes[n]
        if d["op"] == "conv":
            parts.append("conv " + conv_short(d["attrs"]))
        elif d["op"] == "subsample":
            parts.append(f"subsample /{d['attrs']['stride']}")
        elif d["op"] == "channel_pad":
            parts.append(f"+{d['attrs']['before'] + d['attrs']['after']} zero channels")
        else:
            parts.append(op_title(d["op"], d["attrs"]))
    return " → ".join(parts)


def counted(items: list[str]) -> str:
    """['projection', 'identity', 'identity'] -> 'projection, identity ×2' (order kept)."""
    counts: dict[str, int] = {}
    for it in items:
        counts[it] = counts.get(it, 0) + 1
    return ", ".join(k if c == 1 else f"{k} ×{c}" for k, c in counts.items())
