"""Short human text for ops, blocks and counts — what a node says about itself.

The notation follows the ResNet paper's tables ("3×3, 64", "/2") so a diagram
reads like Table 1 of He et al. 2016.
"""
from __future__ import annotations

from ..ir import fmt


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
    """The bold first line of a layer node."""
    if op == "conv":
        return f"conv {_k(a['kernel'])}, {a['filters']}"
    if op in ("maxpool", "avgpool"):
        return f"{op} {_k(a['kernel'])}"
    if op in ("global_avgpool", "global_maxpool", "global_avgmaxpool"):
        return op.replace("_", " ") + (" (C×1×1)" if a.get("keepdims") else "")
    if op == "dropout":
        return f"dropout {a['rate']:g}"
    if op == "multiply":
        return "⊗ multiply"
    if op == "channel_conv":
        return f"conv1d {a['kernel']} across channels"
    if op == "zeropad":
        t, b, left, r = a["padding"]
        return f"zeropad {t}" if len({t, b, left, r}) == 1 else f"zeropad {t},{b},{left},{r}"
    if op == "channel_pad":
        return "zero-pad channels"
    if op == "dense":
        return f"dense {a['units']}"
    if op == "norm":
        return a.get("type", "batchnorm")
    if op == "act":
        return a["fn"]
    if op == "add":
        return "⊕ add"
    if op == "split":
        return f"split part {a['index'] + 1}/{a['parts'] or len(a['sizes'])}"
    if op == "concat":
        return "concat"
    if op == "softmax":
        axis = a["axis"]
        return f"softmax across {a['paths']} paths" if axis == "paths" else \
            f"softmax over {'positions' if axis == 'spatial' else 'channels'}"
    if op == "blur_pool":
        return f"blur pool {a['kernel']}×{a['kernel']}"
    if op == "attention_pool":
        return "attention pool"
    return op


def op_details(op: str, a: dict) -> list[str]:
    """Attribute lines under the title: only what differs from the obvious."""
    out = []
    if op == "conv" and a["groups"] > 1:
        out.append(f"groups {a['groups']}")
    if op == "conv" and tuple(a.get("dilation", (1, 1))) != (1, 1):
        out.append(f"dilation {a['dilation'][0]}")
    if op == "conv" and a.get("standardize"):
        out.append("weight-standardised")
    if op == "split" and a["sizes"]:
        out.append("sizes " + ", ".join(map(str, a["sizes"])))
    if op == "softmax" and a["axis"] == "paths" and a["groups"] > 1:
        out.append(f"{a['groups']} groups")
    if op == "blur_pool" and a["pad_mode"] != "reflect":
        out.append("zero padding")
    if op in ("conv", "maxpool", "avgpool"):
        t, b, left, r = a["padding"]
        if (t, left) != (b, r):  # Keras 'same' at stride 2: the trap worth showing
            out.append(f"pad {t},{b},{left},{r} (t,b,l,r)")
    if op == "channel_pad":
        out.append(f"+{a['before']} before, +{a['after']} after")
    if op == "avgpool" and a.get("ceil_mode"):
        out.append("ceil mode")
    if op == "avgpool" and not a.get("count_include_pad", True) and any(a["padding"]):
        out.append("padding not counted")
    if op == "dense" and a.get("activation", "linear") != "linear":
        out.append(a["activation"])
    if op == "norm" and a.get("gamma_init") == "zeros":
        out.append("γ starts at 0")
    if op == "norm" and a.get("type") == "groupnorm":
        out.append(f"{a['groups']} groups")
    return out


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
