"""Built-in channel attention, lowered to ordinary ops (a gate is ops, not a node
kind the emitters special-case): squeeze-and-excitation (Hu et al. 2018) and ECA
(Wang et al. 2020), sized and named as timm builds them, so timm's weights
(`se.fc1.weight`, `se.conv.weight`) load under the same names.
"""
from __future__ import annotations

import math

from ..errors import Span
from .graph import Builder
from .rounding import make_divisible


def eca_kernel(channels: int, gamma: int, beta: int) -> int:
    """ECA's adaptive kernel size: odd, at least 3, growing with log2(channels)."""
    t = int(abs(math.log(channels, 2) + beta) / gamma)
    return max(t if t % 2 else t + 1, 3)


def _gate_input(b: Builder, x: str, name: str, span: Span, role) -> str:
    """The squeeze: a C×1×1 mean, so the gate's convs see a 1×1 map (timm's x.mean((2, 3), keepdim=True))."""
    return b.add("global_avgpool", f"{name}.pool", {"keepdims": True}, [x], span, role)


def _param_name(name: str, what: str) -> str:
    return f"{name.replace('.', '_')}_{what}"


def se(b: Builder, x: str, channels: int, p, ctx, span: Span, role, name: str) -> str:
    # timm's rounding is no expression of the block's parameters: the reduced width
    # is a parameter of the block's definition in its own right.
    width = make_divisible(channels / p.reduction, p.divisor, round_limit=p.round_limit)
    width = b.param(_param_name(name, "channels"), width)
    y = _gate_input(b, x, name, span, role)
    for local, filters in (("fc1", width), ("fc2", channels)):
        attrs = {"filters": filters, "kernel": (1, 1), "stride": (1, 1), "groups": 1, "bias": p.bias,
                 "init": ctx.conv_init, "padding_mode": "explicit", "padding": (0, 0, 0, 0)}
        y = b.add("conv", f"{name}.{local}", attrs, [y], span, role)
        if local == "fc1":
            y = b.add("act", f"{name}.act", {"fn": p.act}, [y], span, role)
    y = b.add("act", f"{name}.gate", {"fn": p.gate}, [y], span, role)
    return b.add("multiply", f"{name}.mul", {}, [x, y], span, role)


def eca(b: Builder, x: str, channels: int, p, kernel: int | None, span: Span, role, name: str) -> str:
    k = kernel if kernel is not None else b.param(_param_name(name, "kernel"), eca_kernel(channels, p.gamma, p.beta))
    y = _gate_input(b, x, name, span, role)
    y = b.add("channel_conv", f"{name}.conv", {"kernel": k, "bias": False}, [y], span, role)
    y = b.add("act", f"{name}.gate", {"fn": p.gate}, [y], span, role)
    return b.add("multiply", f"{name}.mul", {}, [x, y], span, role)
