"""Built-in residual blocks. A new block kind is one `@block(...)` lowering
function here; registering a name twice is an error (as in torchvision's model
registry).

Local node names follow torchvision (conv1, bn1, downsample.0, ...) so that a
torchvision state_dict loads into the compiled PyTorch module unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..errors import Span
from .attention import eca, se
from .graph import Builder
from .layers import Ctx


@dataclass(frozen=True)
class BlockCall:
    """What a stage hands one block: resolved numbers plus where they came from."""

    x: str
    in_channels: int
    filters: int
    stride: int
    expansion: int | None
    groups: int
    width_per_group: int
    stride_on: str
    shortcut: str | None  # None: a user block's own choice
    projection_on: str
    zero_init_last: bool
    span: Span            # the stage's `block:` value
    shortcut_span: Span   # the stage's `shortcut:` value (or the stage)
    attention: object = None  # the stage's `attention:` (SEAttention | ECAAttention), or None
    drop_path: float = 0.0    # this block's stochastic-depth rate (see lowering.drop_path_rates)


@dataclass(frozen=True)
class BlockKind:
    lower: Callable[[Builder, BlockCall, Ctx], tuple[str, int, dict, str]]
    expansion: int
    description: str


BLOCKS: dict[str, BlockKind] = {}


def block(name: str, expansion: int, description: str):
    def register(fn):
        if name in BLOCKS:
            raise ValueError(f"block kind '{name}' is registered twice")
        BLOCKS[name] = BlockKind(fn, expansion, description)
        return fn
    return register


# Small op helpers; `k // 2` padding is symmetric, as torchvision and keras.applications
# (ZeroPadding2D(1) + 'valid') both use for 3x3 convs.
def conv(b, c: BlockCall, ctx: Ctx, local, x, filters, kernel=1, stride=1, groups=1,
         bias=None, role=None):
    p = kernel // 2
    attrs = {"filters": filters, "kernel": (kernel, kernel), "stride": (stride, stride),
             "groups": groups, "bias": ctx.conv_bias if bias is None else bias,
             "init": ctx.conv_init, "padding_mode": "explicit", "padding": (p, p, p, p)}
    return b.add("conv", local, attrs, [x], c.span if role != "shortcut" else c.shortcut_span, role)


def norm(b, c: BlockCall, ctx: Ctx, local, x, zero=False, role=None):
    attrs = {"type": "batchnorm", "eps": ctx.eps, "momentum": ctx.momentum,
             "gamma_init": "zeros" if zero else "ones"}
    return b.add("norm", local, attrs, [x], c.span if role != "shortcut" else c.shortcut_span, role)


def act(b, c: BlockCall, ctx: Ctx, local, x, role=None):
    return b.add("act", local, {"fn": ctx.act}, [x], c.span, role)


def shortcut(b: Builder, c: BlockCall, ctx: Ctx, x: str, out_channels: int, stride: int,
             norm_after: bool, source: str | None = None) -> tuple[str | None, str]:
    """Build the shortcut path; returns (node or None, kind built).

    projection: 1x1 conv (+ norm in post-activation blocks) where the shape
    changes — the paper's option B; `projection_on: channels` subsamples a
    stride-only change instead (keras.applications V2). zeropad: the paper's
    parameter-free option A. identity: the input as is, subsampled if strided.
    """
    mode, changes_channels = c.shortcut, out_channels != c.in_channels
    if mode == "none":
        return None, "none"
    needs_stride = stride != 1
    if mode == "avg_down" and (changes_channels or needs_stride):
        # ResNet-D (He et al. 2019, "Bag of Tricks"): average the 2x2 window the stride
        # would skip, then a stride-1 projection; timm's layout, an Identity at stride 1.
        y = source or x
        if needs_stride:
            y = b.add("avgpool", "downsample.0", {"kernel": (2, 2), "stride": (stride, stride), "_op": "avgpool",
                                                  "padding_mode": "explicit", "padding": (0, 0, 0, 0),
                                                  "ceil_mode": True, "count_include_pad": False},
                      [y], c.shortcut_span, "shortcut")
        else:
            y = b.add("identity", "downsample.0", {}, [y], c.shortcut_span, "shortcut")
        y = conv(b, c, ctx, "downsample.1", y, out_channels, 1, 1, role="shortcut")
        if norm_after:
            y = norm(b, c, ctx, "downsample.2", y, role="shortcut")
        return y, "avg_down"
    if mode == "projection" and (changes_channels or (needs_stride and c.projection_on == "shape")):
        y = conv(b, c, ctx, "downsample.0", source or x, out_channels, 1, stride, role="shortcut")
        if norm_after:
            y = norm(b, c, ctx, "downsample.1", y, role="shortcut")
        return y, "projection"
    y, kind = x, "identity"
    if needs_stride:
        y = b.add("subsample", "downsample.0", {"stride": stride}, [y], c.shortcut_span, "shortcut")
        kind = "subsample"
    if mode == "zeropad" and out_channels > c.in_channels:
        extra = out_channels - c.in_channels
        y = b.add("channel_pad", f"downsample.{int(needs_stride)}",
                  {"before": extra // 2, "after": extra - extra // 2}, [y], c.shortcut_span, "shortcut")
        kind = "zeropad"
    return y, kind


def attend(b, c: BlockCall, ctx: Ctx, y: str, channels: int) -> str:
    """The stage's channel attention on the residual branch, named `se` whichever
    kind it is (timm's Bottleneck and BasicBlock hold it as `self.se`)."""
    if c.attention is None:
        return y
    if hasattr(c.attention, "se"):
        p = c.attention.se
        return se(b, y, channels, p, ctx, c.span, None, p.name or "se")
    p = c.attention.eca
    kernel = ctx.value(p.kernel, c.span) if p.kernel is not None else None
    return eca(b, y, channels, p, kernel, c.span, None, p.name or "se")


def drop_path(b, c: BlockCall, y: str, span=None) -> str:
    """Stochastic depth (Huang et al. 2016) on the residual branch, just before the
    addition, as timm's `drop_path`; no node at all when the rate is 0."""
    if c.drop_path <= 0:
        return y
    return b.add("drop_path", "drop_path", {"rate": c.drop_path}, [y], span or c.span)


def _finish(b, c, ctx, y, sc, post_act: bool) -> str:
    if sc is not None:
        y = b.add("add", "add", {}, [drop_path(b, c, y), sc], c.shortcut_span)
    return act(b, c, ctx, "act_out", y) if post_act else y


def _strides(c: BlockCall) -> tuple[int, int]:
    """(stride of the first 1x1, stride of the 3x3)."""
    return (c.stride, 1) if c.stride_on == "1x1" else (1, c.stride)


@block("basic", expansion=1, description="two 3x3 convs (ResNet-18/34, the paper's CIFAR nets)")
def basic(b: Builder, c: BlockCall, ctx: Ctx):
    out = c.filters * (c.expansion or 1)
    y = conv(b, c, ctx, "conv1", c.x, c.filters, 3, c.stride)
    y = act(b, c, ctx, "act1", norm(b, c, ctx, "bn1", y))
    y = conv(b, c, ctx, "conv2", y, out, 3)
    y = attend(b, c, ctx, norm(b, c, ctx, "bn2", y, zero=c.zero_init_last), out)
    sc, kind = shortcut(b, c, ctx, c.x, out, c.stride, norm_after=True)
    args = {"in_channels": c.in_channels, "filters": c.filters, "out_channels": out, "stride": c.stride}
    return _finish(b, c, ctx, y, sc, True), out, args, kind


@block("bottleneck", expansion=4, description="1x1 reduce, 3x3 (grouped), 1x1 expand (ResNet-50+, ResNeXt, Wide)")
def bottleneck(b: Builder, c: BlockCall, ctx: Ctx):
    out = c.filters * (c.expansion or 4)
    width = int(c.filters * (c.width_per_group / 64.0)) * c.groups  # torchvision's rule
    s1, s3 = _strides(c)
    y = conv(b, c, ctx, "conv1", c.x, width, 1, s1)
    y = act(b, c, ctx, "act1", norm(b, c, ctx, "bn1", y))
    y = conv(b, c, ctx, "conv2", y, width, 3, s3, groups=c.groups)
    y = act(b, c, ctx, "act2", norm(b, c, ctx, "bn2", y))
    y = conv(b, c, ctx, "conv3", y, out, 1)
    y = attend(b, c, ctx, norm(b, c, ctx, "bn3", y, zero=c.zero_init_last), out)
    sc, kind = shortcut(b, c, ctx, c.x, out, c.stride, norm_after=True)
    args = {"in_channels": c.in_channels, "filters": c.filters, "width": width, "out_channels": out,
            "stride": c.stride, "groups": c.groups}
    return _finish(b, c, ctx, y, sc, True), out, args, kind


def _preact(b, c, ctx):
    return act(b, c, ctx, "preact_act", norm(b, c, ctx, "preact_bn", c.x))


# Pre-activation (ResNet V2, He et al. 2016): convs that feed a norm never take a
# bias; the conv feeding the addition and a projection follow `defaults.conv.bias`
# (keras.applications V2 has a bias exactly there). The projection reads the
# pre-activated input and has no norm: the next block's pre-activation provides it.
@block("preact_basic", expansion=1, description="pre-activation basic block (ResNet V2)")
def preact_basic(b: Builder, c: BlockCall, ctx: Ctx):
    out = c.filters * (c.expansion or 1)
    pre = _preact(b, c, ctx)
    y = conv(b, c, ctx, "conv1", pre, c.filters, 3, c.stride, bias=False)
    y = act(b, c, ctx, "act1", norm(b, c, ctx, "bn1", y))
    y = attend(b, c, ctx, conv(b, c, ctx, "conv2", y, out, 3), out)
    sc, kind = shortcut(b, c, ctx, c.x, out, c.stride, norm_after=False, source=pre)
    args = {"in_channels": c.in_channels, "filters": c.filters, "out_channels": out, "stride": c.stride}
    return _finish(b, c, ctx, y, sc, False), out, args, kind


@block("preact_bottleneck", expansion=4, description="pre-activation bottleneck (ResNet V2)")
def preact_bottleneck(b: Builder, c: BlockCall, ctx: Ctx):
    out = c.filters * (c.expansion or 4)
    width = int(c.filters * (c.width_per_group / 64.0)) * c.groups
    s1, s3 = _strides(c)
    pre = _preact(b, c, ctx)
    y = conv(b, c, ctx, "conv1", pre, width, 1, s1, bias=False)
    y = act(b, c, ctx, "act1", norm(b, c, ctx, "bn1", y))
    y = conv(b, c, ctx, "conv2", y, width, 3, s3, groups=c.groups, bias=False)
    y = act(b, c, ctx, "act2", norm(b, c, ctx, "bn2", y))
    y = attend(b, c, ctx, conv(b, c, ctx, "conv3", y, out, 1), out)
    sc, kind = shortcut(b, c, ctx, c.x, out, c.stride, norm_after=False, source=pre)
    args = {"in_channels": c.in_channels, "filters": c.filters, "width": width, "out_channels": out,
            "stride": c.stride, "groups": c.groups}
    return _finish(b, c, ctx, y, sc, False), out, args, kind
