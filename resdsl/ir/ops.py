"""The op vocabulary of the IR: for each op, its output shape, parameter,
buffer and MAC counts, as pure functions of its attributes and input shapes.

Shapes exclude the batch and are channels-first: (C, H, W) for feature maps,
(F,) for vectors. Padding is always four explicit amounts (top, bottom, left,
right). MACs count the multiply-accumulates of convs, dense layers and matrix products
(attention pooling) only — the definition behind torchvision's published GFLOPS,
and what PyTorch's FLOP counter counts (half its FLOPs).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from ..errors import HintedError
from . import footprint as fp
from .attrs import (
    ActAttrs,
    AddAttrs,
    Attrs,
    BlurPoolAttrs,
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
    SoftmaxAttrs,
    SplitAttrs,
    SubsampleAttrs,
)

Shape = tuple[int, ...]
VECTOR, MAP = 1, 3  # the only ranks a tensor has in the IR: (F,) and (C, H, W)


class ShapeError(HintedError, ValueError):
    """An op cannot take its input; the caller locates it in the spec."""

    def __init__(self, message: str, hint: str | None = None, code: str = "shape-error", operands: bool = False):
        super().__init__(message, hint)
        self.code = code
        self.operands = operands  # the message names the inputs as {0}, {1}, ... (port order)


def fmt(shape: Shape) -> str:
    return "×".join(str(d) for d in shape)


def _spatial(op: str, attrs: dict, x: Shape) -> Shape:
    c, h, w = x
    (kh, kw), (sh, sw) = effective_kernel(attrs), attrs["stride"]
    t, b, left, r = attrs["padding"]
    oh = _out_size(h, kh, sh, t, b, attrs.get("ceil_mode", False))
    ow = _out_size(w, kw, sw, left, r, attrs.get("ceil_mode", False))
    if h + t + b < kh or w + left + r < kw or oh < 1 or ow < 1:
        window = f"kernel {kh}×{kw}" if (kh, kw) == tuple(attrs["kernel"]) else \
            f"kernel {attrs['kernel'][0]}×{attrs['kernel'][1]} at dilation {attrs['dilation'][0]} (a {kh}×{kw} window)"
        raise ShapeError(f"{op} with {window} does not fit its {h}×{w} input (padded to "
                         f"{h + t + b}×{w + left + r}): the spatial size drops below 1",
                         "use a larger input, fewer downsampling steps or more padding",
                         code="spatial-too-small")
    return (c, oh, ow)


def effective_kernel(attrs) -> tuple[int, int]:
    """The window a kernel covers: a dilated k-tap kernel spans d * (k - 1) + 1 pixels."""
    (kh, kw), (dh, dw) = attrs["kernel"], attrs.get("dilation") or (1, 1)
    return dh * (kh - 1) + 1, dw * (kw - 1) + 1


def _feature_map(op: str, x: Shape, what: str = "its input") -> Shape:
    """`x` as C×H×W, or a ShapeError saying the op needs a feature map."""
    if len(x) != 3:
        raise ShapeError(f"{op} needs a feature map (C×H×W), but {what} is {_rank_text(x)}",
                         "spatial layers must come before flatten/global_avgpool/dense")
    return x


def _rank_text(x: Shape) -> str:
    return f"a vector of {x[0]}" if len(x) == 1 else f"{fmt(x)}"


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
    return (ins[0][0], 1, 1) if a.get("keepdims") else (ins[0][0],)


def broadcast(shapes: list[Shape]) -> Shape | None:
    """The shape elementwise ops give tensors of these shapes (None if they do not
    broadcast): ranks equal, each size equal or 1, as numpy and both frameworks
    broadcast; a C×1×1 gate over a C×H×W map, a 1×H×W map over every channel."""
    if len({len(s) for s in shapes}) != 1:
        return None
    out = []
    for sizes in zip(*shapes):
        big = {d for d in sizes if d != 1}
        if len(big) > 1:
            return None
        out.append(big.pop() if big else 1)
    return tuple(out)


def _multiply_shape(a: dict, ins: list[Shape]) -> Shape:
    """x times a gate: shapes that broadcast (the gate x's shape, C×1×1 or 1×H×W)."""
    x, gate = ins
    out = broadcast(ins)
    if out is None:
        raise ShapeError(f"multiply: the gate gives {fmt(gate)}, but it multiplies a {fmt(x)} tensor",
                         f"the gate must be {fmt(x)}, one value per channel ({x[0]}×1×1) or one map for all "
                         "channels (1×H×W)", code="shape-mismatch")
    return out


def _broadcast_channels(a, chans: list):
    """The channels of a broadcast: those of an input that has more than one."""
    return next((c for c in chans if c is not None and c != 1), chans[0])


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
    branch = a["shortcut"] == "branch"  # an `add` layer: no shortcut here to suggest a projection for
    if branch:  # it broadcasts, as multiply does (a block's own residual add does not: that hides mistakes)
        out = broadcast(ins)
        if out is not None:
            return out
    first = ins[0]
    for other in ins[1:]:
        if other == first:
            continue
        if len(other) == len(first) == 3 and other[0] != first[0] and not branch:
            raise ShapeError(f"shortcut carries {other[0]} channels but the main path gives {first[0]}",
                             "use `shortcut: projection`, or keep channels and stride equal across the block",
                             code="shape-mismatch")
        msg = (f"add: '{{0}}' gives {fmt(first)} but '{{1}}' gives {fmt(other)}" if branch
               else f"shortcut gives {fmt(other)} but the main path gives {fmt(first)}")
        hint = ("the tensors an add joins must have one shape (the same filters and stride on both branches), "
                "or one broadcasts: one value per channel (C×1×1) or per position (1×H×W)"
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
    return (a["units"],)


def _zero(*_) -> int:
    return 0


def split_sizes(a, channels: int) -> tuple:
    """The sizes of all parts of a split of `channels`; a ShapeError where they cannot be."""
    if a["parts"]:
        if channels % a["parts"]:
            raise ShapeError(f"split into {a['parts']} equal parts needs channels divisible by {a['parts']}, "
                             f"but the input has {channels}", "split a width that the parts divide, or give "
                             "`sizes`", code="bad-split")
        return (channels // a["parts"],) * a["parts"]
    if sum(a["sizes"]) != channels:
        raise ShapeError(f"split sizes {list(a['sizes'])} add up to {sum(a['sizes'])}, but the input has "
                         f"{channels} channels", "the sizes must add up to the input's channels", code="bad-split")
    return tuple(a["sizes"])


def _split_shape(a: dict, ins: list[Shape]) -> Shape:
    x = ins[0]
    return (split_sizes(a, x[0])[a["index"]], *x[1:])


def _split_channels(a, chans: list):
    return chans[0] // a["parts"] if a["parts"] else a["sizes"][a["index"]]


def _concat_shape(a: dict, ins: list[Shape]) -> Shape:
    first = ins[0]
    for other in ins[1:]:
        if len(other) != len(first) or other[1:] != first[1:]:
            raise ShapeError(f"concat joins tensors along the channels, which must agree in every other size, "
                             f"but it is given {' and '.join(fmt(s) for s in ins)}",
                             "concatenate tensors of the same height and width", code="shape-mismatch")
    return (sum(s[0] for s in ins), *first[1:])


def _concat_channels(a, chans: list):
    if any(c is None for c in chans):
        return None
    total = chans[0]
    for c in chans[1:]:
        total = total + c
    return total


SOFTMAX_AXES = ("channels", "spatial", "paths")


def _softmax_shape(a: dict, ins: list[Shape]) -> Shape:
    x = ins[0]
    if a["axis"] == "spatial":
        _feature_map("softmax over the spatial positions", x)
    elif a["axis"] == "paths":
        n = a["paths"] * a["groups"]
        if n < 1 or x[0] % n:
            raise ShapeError(f"softmax across {a['paths']} paths in {a['groups']} groups needs channels divisible "
                             f"by {n}, but the input has {x[0]}", "the channels are groups × paths × the rest",
                             code="bad-split")
    elif a["axis"] not in SOFTMAX_AXES:
        raise ShapeError(f"softmax has no axis '{a['axis']}'", f"choose one of: {', '.join(SOFTMAX_AXES)}",
                         code="bad-value")
    return x


def _blur_pool_shape(a: dict, ins: list[Shape]) -> Shape:
    c, h, w = _feature_map("blur_pool", ins[0])
    t, b, left, r = a["padding"]
    if a["pad_mode"] == "reflect" and max(t, b) >= h or a["pad_mode"] == "reflect" and max(left, r) >= w:
        raise ShapeError(f"blur_pool reflects its {h}×{w} input by {t},{b},{left},{r} (t,b,l,r), but a reflection "
                         "must be smaller than the input", "use a larger input or `pad_mode: zeros`",
                         code="spatial-too-small")
    k, s = a["kernel"], a["stride"]
    return _spatial("blur_pool", {"kernel": (k, k), "stride": (s, s), "padding": a["padding"]}, ins[0])


def _attention_pool_shape(a: dict, ins: list[Shape]) -> Shape:
    """Features C×H×W pooled by weights h×H×W (h dividing C): one weighted sum over
    the positions per channel, each group of C/h channels by its own map."""
    x = _feature_map("attention_pool", ins[0], "the tensor it pools")
    w = _feature_map("attention_pool", ins[1], "its weights")
    if w[1:] != x[1:] or x[0] % w[0]:
        raise ShapeError(f"attention_pool: weights {fmt(w)} cannot pool a {fmt(x)} tensor",
                         f"the weights must be one map over the same positions (1×{x[1]}×{x[2]}), or a number of "
                         "maps that divides the channels", code="shape-mismatch")
    return (x[0], 1, 1)


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


def _k(pair) -> str:
    return f"{pair[0]}×{pair[1]}"


def _pad_text(a) -> list[str]:
    t, b, left, r = a["padding"]
    return [f"pad {t},{b},{left},{r} (t,b,l,r)"] if (t, left) != (b, r) else []  # Keras 'same' at stride 2


def _zeropad_label(a) -> str:
    t, b, left, r = a["padding"]
    return f"zeropad {t}" if len({t, b, left, r}) == 1 else f"zeropad {t},{b},{left},{r}"


def _avgpool_details(a) -> list[str]:
    out = _pad_text(a)
    if a.get("ceil_mode"):
        out.append("ceil mode")
    if not a.get("count_include_pad", True) and any(a["padding"]):
        out.append("padding not counted")
    return out


def _norm_details(a) -> list[str]:
    return (["γ starts at 0"] if a.get("gamma_init") == "zeros" else []) + (
        [f"{a['groups']} groups"] if a.get("type") == "groupnorm" else [])


def _gap_label(name: str):
    return lambda a: name + (" (C×1×1)" if a.get("keepdims") else "")


def _no_details(a) -> list[str]:
    return []


def _conv_details(a) -> list[str]:
    out = [f"groups {a['groups']}"] if a["groups"] > 1 else []
    if tuple(a.get("dilation", (1, 1))) != (1, 1):
        out.append(f"dilation {a['dilation'][0]}")
    if a.get("standardize"):
        out.append("weight-standardised")
    return out + _pad_text(a)


def _softmax_label(a) -> str:
    if a["axis"] == "paths":
        return f"softmax across {a['paths']} paths"
    return f"softmax over {'positions' if a['axis'] == 'spatial' else 'channels'}"


@dataclass(frozen=True)
class OpDef:
    """One op of the IR: its attribute type, how it transforms shapes and counts,
    and what the tools call it.

    `channels` maps the input channel counts to the output's: it runs on plain
    ints in the shape pass and on symbolic ones (ir.expr) when a block's
    definition is written out, so the emitters know a layer's input width as
    an expression (`filters * 4`) without re-deriving it.

    `label` is the title a diagram gives a node (text, or a function of the
    attributes, in the notation of the ResNet paper's tables) and `details` the
    attribute lines under it: only what differs from the obvious. `prefix` starts
    the default names of a spec's unnamed layers (`bn1`, `bn2`, as torchvision
    names them). `merge`: the frameworks' layer for it takes its inputs as one
    list (Keras' `Add()([a, b])`)."""

    attrs: type[Attrs]
    shape: Callable[[dict, list[Shape]], Shape]  # called through output_shape, which checks ranks and arity
    label: str | Callable[[Attrs], str]
    prefix: str
    params: Callable[[dict, list[Shape]], int] = _zero
    buffers: Callable[[dict, list[Shape]], int] = _zero
    # Values a build allocates that are neither parameters nor state_dict buffers
    # (a blur pool's fixed filter): counted before building (backends/resources.py).
    constants: Callable[[dict, list[Shape]], int] = _zero
    macs: Callable[[dict, list[Shape], Shape], int] = _zero
    arity: int = 1            # inputs it takes; -1: any number (at least one)
    channels: Callable[[Attrs, list], object] = _pass_channels
    details: Callable[[Attrs], list[str]] = _no_details
    merge: bool = False
    # Receptive field and training memory (ir/footprint.py): the op's spatial window,
    # and what its backward keeps. The defaults read the attributes / save the inputs.
    # Each a value or a function of the attrs.
    window: object = fp.default_window
    memory: object = fp.INPUTS
    ranks: tuple[int, ...] = (VECTOR, MAP)  # the input ranks it takes (each input)

    def title(self, attrs: Attrs) -> str:
        return self.label if isinstance(self.label, str) else self.label(attrs)


OPS: dict[str, OpDef] = {
    "input": OpDef(InputAttrs, shape=lambda a, ins: tuple(a["shape"]), label="input", prefix="input", arity=0,
                   channels=lambda a, chans: a["shape"][0], memory=fp.NOTHING),
    "conv": OpDef(ConvAttrs, _conv_shape, lambda a: f"conv {_k(a['kernel'])}, {a['filters']}", "conv",
                  _conv_params, macs=_conv_macs, channels=lambda a, chans: a["filters"], details=_conv_details,
                  ranks=(MAP,)),
    "norm": OpDef(NormAttrs, _norm_shape, lambda a: a.get("type", "batchnorm"), "bn",
                  params=lambda a, ins: 2 * ins[0][0], buffers=_norm_buffers, details=_norm_details),
    "act": OpDef(ActAttrs, _same, lambda a: a["fn"], "act", memory=fp.act_memory),
    "maxpool": OpDef(PoolAttrs, _pool_shape("maxpool"), lambda a: f"maxpool {_k(a['kernel'])}", "maxpool",
                     details=_pad_text, memory=fp.Memory(inputs=True, extra=8), ranks=(MAP,)),
    "avgpool": OpDef(PoolAttrs, _pool_shape("avgpool"), lambda a: f"avgpool {_k(a['kernel'])}", "avgpool",
                     details=_avgpool_details, ranks=(MAP,)),
    # A mean keeps nothing for its backward; a max keeps its input and result.
    "global_avgpool": OpDef(GlobalPoolAttrs, _gap_shape, _gap_label("global avgpool"), "avgpool",
                            window=fp.GLOBAL, memory=fp.NOTHING, ranks=(MAP,)),
    "global_maxpool": OpDef(GlobalPoolAttrs, _gap_shape, _gap_label("global maxpool"), "maxpool",
                            window=fp.GLOBAL, memory=fp.Memory(inputs=True, output=True), ranks=(MAP,)),
    # timm's 'avgmax': (mean + max) / 2
    "global_avgmaxpool": OpDef(GlobalPoolAttrs, _gap_shape, _gap_label("global avgmaxpool"), "pool",
                               window=fp.GLOBAL, memory=fp.Memory(inputs=True, output=True), ranks=(MAP,)),
    "dropout": OpDef(RateAttrs, _same, lambda a: f"dropout {a['rate']:g}", "drop",
                     memory=fp.Memory(extra=1)),  # its mask, one byte per element
    # stochastic depth: drops a whole sample's residual branch (keeps one scale per sample; at rate 0, x itself)
    "drop_path": OpDef(RateAttrs, _same, "drop_path", "drop_path",
                       memory=lambda a: fp.VIEW if a["rate"] == 0 else fp.NOTHING),
    # a placeholder that keeps timm's indices (ResNet-D's stride-1 downsample.0)
    "identity": OpDef(NoAttrs, _same, "identity", "identity", memory=fp.VIEW),
    "multiply": OpDef(NoAttrs, _multiply_shape, "⊗ multiply", "mul", arity=2, merge=True,
                      channels=_broadcast_channels),
    "channel_conv": OpDef(ChannelConvAttrs, _channel_conv_shape, lambda a: f"conv1d {a['kernel']} across channels",
                          "conv", params=lambda a, ins: a["kernel"] + int(a["bias"]),
                          macs=lambda a, ins, out: ins[0][0] * a["kernel"]),
    "zeropad": OpDef(PadAttrs, _pad_shape, _zeropad_label, "pad", memory=fp.NOTHING, ranks=(MAP,)),
    "subsample": OpDef(SubsampleAttrs, _subsample_shape, "subsample", "subsample", window=fp.stride_window,
                       memory=fp.VIEW, ranks=(MAP,)),
    "channel_pad": OpDef(ChannelPadAttrs, _channel_pad_shape, "zero-pad channels", "pad",
                         channels=lambda a, chans: chans[0] + a["before"] + a["after"],
                         details=lambda a: [f"+{a['before']} before, +{a['after']} after"], memory=fp.NOTHING,
                         ranks=(MAP,)),
    "add": OpDef(AddAttrs, _add_shape, "⊕ add", "add", arity=2, merge=True, channels=_broadcast_channels,
                 memory=fp.NOTHING),
    # A part of a split is a slice of its input; a concat copies, and its backward slices the gradient.
    "split": OpDef(SplitAttrs, _split_shape, lambda a: f"split part {a['index'] + 1}/{a['parts'] or len(a['sizes'])}",
                   "split", channels=_split_channels, memory=fp.VIEW,
                   details=lambda a: ["sizes " + ", ".join(map(str, a["sizes"]))] if a["sizes"] else []),
    "concat": OpDef(NoAttrs, _concat_shape, "concat", "cat", arity=-1, merge=True, channels=_concat_channels,
                    memory=fp.NOTHING),
    # A softmax's derivative is written in its output; over positions, one value reads the whole map.
    "softmax": OpDef(SoftmaxAttrs, _softmax_shape, _softmax_label, "softmax", memory=fp.OUTPUT,
                     window=lambda a: fp.GLOBAL if a["axis"] == "spatial" else None,
                     details=lambda a: [f"{a['groups']} groups"] if a["axis"] == "paths" and a["groups"] > 1 else []),
    "blur_pool": OpDef(BlurPoolAttrs, _blur_pool_shape, lambda a: f"blur pool {a['kernel']}×{a['kernel']}", "blur",
                       macs=lambda a, ins, out: out[0] * out[1] * out[2] * a["kernel"] ** 2,  # a fixed depthwise conv
                       window=lambda a: (a["kernel"], a["kernel"], a["stride"], a["stride"]),
                       details=lambda a: ["zero padding"] if a["pad_mode"] != "reflect" else [], ranks=(MAP,),
                       constants=lambda a, ins: ins[0][0] * a["kernel"] ** 2),  # its filter, once per channel
    # A matrix product per sample, (C/h × HW) @ (HW × 1) for each of h maps: C·H·W MACs.
    "attention_pool": OpDef(NoAttrs, _attention_pool_shape, "attention pool", "attn_pool", arity=2, merge=True,
                            macs=lambda a, ins, out: ins[0][0] * ins[0][1] * ins[0][2], window=fp.GLOBAL),
    # Each value of a flattened map is one position, but the dense layer after it reads them all.
    "flatten": OpDef(NoAttrs, _flatten_shape, "flatten", "flatten", channels=lambda a, chans: None,
                     window=fp.GLOBAL, memory=fp.VIEW),
    "dense": OpDef(DenseAttrs, _dense_shape, lambda a: f"dense {a['units']}", "fc",
                   params=lambda a, ins: ins[0][0] * a["units"] + (a["units"] if a["bias"] else 0),
                   macs=lambda a, ins, out: ins[0][0] * a["units"], channels=lambda a, chans: a["units"],
                   details=lambda a: [a["activation"]] if a.get("activation", "linear") != "linear" else [],
                   memory=fp.dense_memory, ranks=(VECTOR,)),
}


_SPATIAL_HINT = "spatial layers must come before flatten, global pooling and dense layers"


def output_shape(op: str, attrs, ins: list[Shape]) -> Shape:
    """The output shape of `op` on inputs `ins`, or a ShapeError: every op's input
    ranks and arity are checked here, before its shape rule unpacks them, so a
    layer placed where the tensor has the wrong rank (a zero-pad shortcut after
    global pooling) is the spec's mistake, located by the caller."""
    d = OPS[op]
    if d.arity == -1 and not ins:
        raise ShapeError(f"{op} takes one input or more, got none")
    if d.arity != -1 and len(ins) != d.arity:
        raise ShapeError(f"{op} takes {d.arity} input{'s' * (d.arity != 1)}, got {len(ins)}")
    for x in ins:
        if len(x) in d.ranks:
            continue
        if d.ranks == (MAP,) and len(x) == VECTOR:
            raise ShapeError(f"{op} needs a feature map (C×H×W), but its input is a vector of {x[0]}", _SPATIAL_HINT)
        if d.ranks == (VECTOR,) and len(x) == MAP:
            raise ShapeError(f"{op} needs a vector, but its input is a {fmt(x)} feature map",
                             f"add `flatten` or `global_avgpool` before the {op} layer")
        wanted = " or ".join({VECTOR: "a vector (F)", MAP: "a feature map (C×H×W)"}.get(r, f"rank {r}")
                             for r in d.ranks)
        raise ShapeError(f"{op} needs {wanted}, but its input has shape ({fmt(x)}), of rank {len(x)}")
    return d.shape(attrs, ins)


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow/Keras 'same': the extra pixel goes after (bottom/right), which is
    why a stride-2 'same' conv is asymmetric and not torch's padding=k//2."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2
