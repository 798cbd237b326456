"""The op vocabulary of the IR: for each op, its output shape, parameter,
buffer and MAC counts, as pure functions of its attributes and input shapes.

Shapes exclude the batch and are channels-first: (C, H, W) for feature maps,
(F,) for vectors. Padding is always four explicit amounts (top, bottom, left,
right). MACs count the multiply-accumulates of convs and dense layers only —
the definition behind torchvision's published GFLOPS.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from .attrs import (
    ActAttrs,
    AddAttrs,
    Attrs,
    ChannelConvAttrs,
    ChannelPadAttrs,
    ConvAttrs,
    DenseAttrs,
    GlobalPoolAttrs,
    InputAttrs,
    NoAttrs,
    NormAttrs,
    PadAttrs,
    PoolAttrs,
    RateAttrs,
    SubsampleAttrs,
)

Shape = tuple[int, ...]


class ShapeError(ValueError):
    """An op cannot take its input; the caller locates it in the spec."""

    def __init__(self, message: str, hint: str | None = None, code: str = "shape-error", operands: bool = False):
        super().__init__(message)
        self.hint, self.code = hint, code
        self.operands = operands  # the message names the inputs as {0}, {1}, ... (port order)


def fmt(shape: Shape) -> str:
    return "×".join(str(d) for d in shape)


def _spatial(op: str, attrs: dict, x: Shape) -> Shape:
    if len(x) != 3:
        raise ShapeError(f"{op} needs a feature map (C×H×W), but its input is a vector of {x[0]}",
                         "spatial layers must come before flatten/global_avgpool/dense")
    c, h, w = x
    (kh, kw), (sh, sw) = attrs["kernel"], attrs["stride"]
    t, b, left, r = attrs["padding"]
    oh = _out_size(h, kh, sh, t, b, attrs.get("ceil_mode", False))
    ow = _out_size(w, kw, sw, left, r, attrs.get("ceil_mode", False))
    if h + t + b < kh or w + left + r < kw or oh < 1 or ow < 1:
        raise ShapeError(f"{op} with kernel {kh}×{kw} does not fit its {h}×{w} input (padded to "
                         f"{h + t + b}×{w + left + r}): the spatial size drops below 1",
                         "use a larger input, fewer downsampling steps or more padding",
                         code="spatial-too-small")
    return (c, oh, ow)


def _out_size(size: int, k: int, s: int, before: int, after: int, ceil: bool) -> int:
    """Output length of a window op. With `ceil` (PyTorch's ceil_mode) a last,
    partial window is kept, unless it would start past the input and the padding
    before it: PyTorch's rule, which decides e.g. 11 -> 6 under a 2×2/2 pool."""
    span = size + before + after - k
    if not ceil:
        return span // s + 1
    out = -(-span // s) + 1
    return out - 1 if (out - 1) * s >= size + before else out


def _conv_shape(a: dict, ins: list[Shape]) -> Shape:
    x = ins[0]
    _, oh, ow = _spatial("conv", a, x)
    g = a["groups"]
    if a["filters"] < 1:  # e.g. a bottleneck whose int(filters * width_per_group / 64) is 0
        raise ShapeError(f"conv would have {a['filters']} filters", "a bottleneck's width is "
                         "int(filters * width_per_group / 64) * groups; make it at least 1", code="bad-value")
    if x[0] % g or a["filters"] % g:
        raise ShapeError(f"groups={g} must divide both the input channels ({x[0]}) and filters ({a['filters']})",
                         code="bad-groups")
    return (a["filters"], oh, ow)


def _conv_params(a: dict, ins: list[Shape]) -> int:
    kh, kw = a["kernel"]
    return kh * kw * ins[0][0] // a["groups"] * a["filters"] + (a["filters"] if a["bias"] else 0)


def _conv_macs(a: dict, ins: list[Shape], out: Shape) -> int:
    kh, kw = a["kernel"]
    return out[0] * out[1] * out[2] * kh * kw * ins[0][0] // a["groups"]


def _same(a: dict, ins: list[Shape]) -> Shape:
    return ins[0]


def _pool_shape(op: str):
    def shape(a: dict, ins: list[Shape]) -> Shape:
        return _spatial(op, a, ins[0])
    return shape


def _gap_shape(a: dict, ins: list[Shape]) -> Shape:
    if len(ins[0]) != 3:
        raise ShapeError("global pooling needs a feature map, but its input is already a vector")
    return (ins[0][0], 1, 1) if a.get("keepdims") else (ins[0][0],)


def _multiply_shape(a: dict, ins: list[Shape]) -> Shape:
    """x times a gate: the gate is x's shape or one value per channel (C×1×1)."""
    x, gate = ins
    if gate != x and not (len(x) == 3 and gate == (x[0], 1, 1)):
        raise ShapeError(f"multiply: the gate gives {fmt(gate)}, but it multiplies a {fmt(x)} tensor",
                         f"the gate must be {fmt(x)} or one value per channel ({x[0]}×1×1)", code="shape-mismatch")
    return x


def _channel_conv_shape(a: dict, ins: list[Shape]) -> Shape:
    x, k = ins[0], a["kernel"]
    if not (len(x) == 1 or x[1:] == (1, 1)):
        raise ShapeError(f"channel_conv runs across channels of a pooled tensor (C or C×1×1), not {fmt(x)}",
                         "pool first: `global_avgpool: {keepdims: true}`")
    if k % 2 == 0 or k > x[0]:
        raise ShapeError(f"channel_conv kernel {k} must be odd and at most the {x[0]} channels", code="bad-value")
    return x


def _pad_shape(a: dict, ins: list[Shape]) -> Shape:
    x = ins[0]
    if len(x) != 3:
        raise ShapeError("zeropad needs a feature map, but its input is a vector")
    t, b, left, r = a["padding"]
    return (x[0], x[1] + t + b, x[2] + left + r)


def _subsample_shape(a: dict, ins: list[Shape]) -> Shape:
    c, h, w = ins[0]
    s = a["stride"]
    return (c, (h - 1) // s + 1, (w - 1) // s + 1)


def _channel_pad_shape(a: dict, ins: list[Shape]) -> Shape:
    c, h, w = ins[0]
    return (c + a["before"] + a["after"], h, w)


def _add_shape(a: dict, ins: list[Shape]) -> Shape:
    first = ins[0]
    branch = a["shortcut"] == "branch"  # an `add` layer: no shortcut here to suggest a projection for
    for other in ins[1:]:
        if other == first:
            continue
        if len(other) == len(first) == 3 and other[0] != first[0] and not branch:
            raise ShapeError(f"shortcut carries {other[0]} channels but the main path gives {first[0]}",
                             "use `shortcut: projection`, or keep channels and stride equal across the block",
                             code="shape-mismatch")
        msg = (f"add: '{{0}}' gives {fmt(first)} but '{{1}}' gives {fmt(other)}" if branch
               else f"shortcut gives {fmt(other)} but the main path gives {fmt(first)}")
        hint = ("the tensors an add joins must have one shape: the same filters and stride on both branches"
                if branch else "use `shortcut: projection`, or keep channels and stride equal across the block")
        if len(other) == len(first) == 3 and other[0] == first[0] and \
                max(abs(other[1] - first[1]), abs(other[2] - first[2])) == 1:
            # Both paths stride by the same factor, but one rounds an odd size down and
            # the other up: (n - k + 2p) // s + 1 differs from ceil(n / s) when n is odd.
            msg += " (they differ by one: an odd size was rounded differently)"
            hint = ("a strided op floors an odd input size; give the strided conv padding k // 2 (or "
                    "'same'), pool with `ceil_mode`, or use an input size divisible by the total stride")
        raise ShapeError(msg, hint, code="shape-mismatch", operands=branch)
    return first


def _flatten_shape(a: dict, ins: list[Shape]) -> Shape:
    return (math.prod(ins[0]),)


def _dense_shape(a: dict, ins: list[Shape]) -> Shape:
    if len(ins[0]) != 1:
        raise ShapeError(f"dense needs a vector, but its input is a {fmt(ins[0])} feature map",
                         "add `flatten` or `global_avgpool` before the dense layer")
    return (a["units"],)


def _zero(*_) -> int:
    return 0


def _norm_shape(a: dict, ins: list[Shape]) -> Shape:
    c = ins[0][0]
    if a["type"] == "groupnorm" and (a["groups"] < 1 or c % a["groups"]):
        raise ShapeError(f"group norm with {a['groups']} groups cannot split {c} channels",
                         "the groups must divide the channels (timm and PyTorch use 32 groups, or 16 for thin layers)",
                         code="bad-groups")
    return ins[0]


def _norm_buffers(a: dict, ins: list[Shape]) -> int:
    """BatchNorm keeps running mean and variance; group norm keeps nothing."""
    return 2 * ins[0][0] if a["type"] == "batchnorm" else 0


def _pass_channels(a, chans: list):
    return chans[0]


@dataclass(frozen=True)
class OpDef:
    """One op of the IR: its attribute type and how it transforms shapes and counts.

    `channels` maps the input channel counts to the output's: it runs on plain
    ints in the shape pass and on symbolic ones (ir.expr) when a block's
    definition is written out, so the emitters know a layer's input width as
    an expression (`filters * 4`) without re-deriving it."""

    attrs: type[Attrs]
    shape: Callable[[dict, list[Shape]], Shape]
    params: Callable[[dict, list[Shape]], int] = _zero
    buffers: Callable[[dict, list[Shape]], int] = _zero
    macs: Callable[[dict, list[Shape], Shape], int] = _zero
    arity: int = 1
    channels: Callable[[Attrs, list], object] = _pass_channels


OPS: dict[str, OpDef] = {
    "input": OpDef(InputAttrs, shape=lambda a, ins: tuple(a["shape"]), arity=0,
                   channels=lambda a, chans: a["shape"][0]),
    "conv": OpDef(ConvAttrs, _conv_shape, _conv_params, macs=_conv_macs, channels=lambda a, chans: a["filters"]),
    "norm": OpDef(NormAttrs, _norm_shape, params=lambda a, ins: 2 * ins[0][0], buffers=_norm_buffers),
    "act": OpDef(ActAttrs, _same),
    "maxpool": OpDef(PoolAttrs, _pool_shape("maxpool")),
    "avgpool": OpDef(PoolAttrs, _pool_shape("avgpool")),
    "global_avgpool": OpDef(GlobalPoolAttrs, _gap_shape),
    "global_maxpool": OpDef(GlobalPoolAttrs, _gap_shape),
    "global_avgmaxpool": OpDef(GlobalPoolAttrs, _gap_shape),  # timm's 'avgmax': (mean + max) / 2
    "dropout": OpDef(RateAttrs, _same),
    "drop_path": OpDef(RateAttrs, _same),  # stochastic depth: drops a whole sample's residual branch
    "identity": OpDef(NoAttrs, _same),  # a placeholder that keeps timm's indices (ResNet-D's stride-1 downsample.0)
    "multiply": OpDef(NoAttrs, _multiply_shape, arity=2),
    "channel_conv": OpDef(ChannelConvAttrs, _channel_conv_shape, params=lambda a, ins: a["kernel"] + int(a["bias"]),
                          macs=lambda a, ins, out: ins[0][0] * a["kernel"]),
    "zeropad": OpDef(PadAttrs, _pad_shape),
    "subsample": OpDef(SubsampleAttrs, _subsample_shape),
    "channel_pad": OpDef(ChannelPadAttrs, _channel_pad_shape,
                         channels=lambda a, chans: chans[0] + a["before"] + a["after"]),
    "add": OpDef(AddAttrs, _add_shape, arity=2),
    "flatten": OpDef(NoAttrs, _flatten_shape, channels=lambda a, chans: None),
    "dense": OpDef(DenseAttrs, _dense_shape,
                   params=lambda a, ins: ins[0][0] * a["units"] + (a["units"] if a["bias"] else 0),
                   macs=lambda a, ins, out: ins[0][0] * a["units"], channels=lambda a, chans: a["units"]),
}


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow/Keras 'same': the extra pixel goes after (bottom/right), which is
    why a stride-2 'same' conv is asymmetric and not torch's padding=k//2."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2
