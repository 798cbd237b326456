"""Built-in residual blocks. A new block kind is one `@block(...)` lowering
function here plus its name and description in resdsl.vocab.BLOCKS (which the
spec language reads); registering a name twice is an error (as in torchvision's
model registry).

Local node names follow torchvision (conv1, bn1, downsample.0, ...) so that a
torchvision state_dict loads into the compiled PyTorch module unchanged.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Callable

from ..errors import Span
from ..vocab import BLOCKS as NAMES
from .attention import eca, se
from .expr import trunc
from .graph import Builder
from .layers import Ctx, standardize_attrs


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
    drop_path: float | None = None  # this block's stochastic-depth rate; None: the network has none


@dataclass(frozen=True)
class BlockKind:
    lower: Callable[[Builder, BlockCall, Ctx], tuple[str, int, str]]
    expansion: int
    description: str


BLOCKS: dict[str, BlockKind] = {}


def block(name: str, expansion: int):
    """Register the lowering of the built-in block `name` (listed in resdsl.vocab)."""
    def register(fn):
        if name in BLOCKS:
            raise ValueError(f"block kind '{name}' is registered twice")
        if name not in NAMES:
            raise ValueError(f"block kind '{name}' is not in resdsl.vocab.BLOCKS")
        BLOCKS[name] = BlockKind(fn, expansion, NAMES[name])
        return fn
    return register


def declare(b: Builder, c: BlockCall, expansion: int) -> BlockCall:
    """The parameters a built-in block's definition is written in, as torchvision
    names them (its `planes` is our `filters`); the values become symbolic so the
    block's template reads `filters * expansion`, not 256."""
    return replace(c, in_channels=b.param("in_channels", c.in_channels), filters=b.param("filters", c.filters),
                   stride=b.param("stride", c.stride), groups=b.param("groups", c.groups),
                   width_per_group=b.param("width_per_group", c.width_per_group),
                   expansion=b.param("expansion", c.expansion or expansion),
                   drop_path=b.param("drop_path_rate", c.drop_path))


# Small op helpers; `k // 2` padding is symmetric, as torchvision and keras.applications
# (ZeroPadding2D(1) + 'valid') both use for 3x3 convs.
def conv(b, c: BlockCall, ctx: Ctx, local, x, filters, kernel=1, stride=1, groups=1,
         bias=None, role=None):
    p = kernel // 2
    attrs = {"filters": filters, "kernel": (kernel, kernel), "stride": (stride, stride),
             "groups": groups, "bias": ctx.conv_bias if bias is None else bias,
             "init": ctx.conv_init, "padding_mode": "explicit", "padding": (p, p, p, p),
             **standardize_attrs(ctx, None, None)}
    return b.add("conv", local, attrs, [x], c.span if role != "shortcut" else c.shortcut_span, role)


def norm(b, c: BlockCall, ctx: Ctx, local, x, zero=False, role=None):
    attrs = {"type": ctx.norm_type, "eps": ctx.eps, "momentum": ctx.momentum,
             "gamma_init": "zeros" if zero else "ones",
             "groups": ctx.norm_groups if ctx.norm_type == "groupnorm" else 0}
    return b.add("norm", local, attrs, [x], c.span if role != "shortcut" else c.shortcut_span, role)


def act(b, c: BlockCall, ctx: Ctx, local, x, role=None):
    return b.add("act", local, {"fn": ctx.act}, [x], c.span, role)


@contextmanager
def shortcut_path(b: Builder):
    """Nodes added inside belong to the block's own shortcut, which instances of
    one definition may have or not (the template's optional part)."""
    b.in_shortcut = True
    try:
        yield
    finally:
        b.in_shortcut = False


def shortcut(b: Builder, c: BlockCall, ctx: Ctx, x: str, out_channels: int, stride: int,
             norm_after: bool, source: str | None = None) -> tuple[str | None, str]:
    """Build the shortcut path; returns (node or None, kind built).

    projection: 1x1 conv (+ norm in post-activation blocks) where the shape
    changes — the paper's option B; `projection_on: channels` subsamples a
    stride-only change instead (keras.applications V2). zeropad: the paper's
    parameter-free option A. identity: the input as is, subsampled if strided.
    """
    with shortcut_path(b):
        return _shortcut(b, c, ctx, x, out_channels, stride, norm_after, source)


def _shortcut(b, c, ctx, x, out_channels, stride, norm_after, source):
    mode, changes_channels = c.shortcut, out_channels != c.in_channels
    if mode == "none":
        return None, "none"
    needs_stride = stride != 1
    if mode == "avg_down" and (changes_channels or needs_stride):
        # ResNet-D (He et al. 2019, "Bag of Tricks"): average the 2x2 window the stride
        # would skip, then a stride-1 projection; timm's layout, an Identity at stride 1.
        y = source or x
        if needs_stride:
            y = b.add("avgpool", "downsample.0", {"kernel": (2, 2), "stride": (stride, stride),
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
        extra = b.let("extra_channels", out_channels - c.in_channels)
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
    addition, as timm's `drop_path`. Every block of a network with a drop-path rate
    has the node (the first one at rate 0), so all blocks share one definition."""
    if c.drop_path is None:
        return y
    return b.add("drop_path", "drop_path", {"rate": c.drop_path}, [y], span or c.span)


def residual_add(b: Builder, y: str, sc: str, kind: str, span) -> str:
    """The block's addition of its main path `y` and its shortcut `sc`."""
    out = b.add("add", "add", {"shortcut": kind}, [y, sc], span)
    b.mark_shortcut_add(out, kind)
    return out


def _finish(b, c, ctx, y, sc, kind, post_act: bool) -> str:
    if sc is not None:
        y = residual_add(b, drop_path(b, c, y), sc, kind, c.shortcut_span)
    return act(b, c, ctx, "act_out", y) if post_act else y


def _strides(c: BlockCall) -> tuple[int, int]:
    """(stride of the first 1x1, stride of the 3x3)."""
    return (c.stride, 1) if c.stride_on == "1x1" else (1, c.stride)


def _width(b: Builder, c: BlockCall) -> int:
    """torchvision's bottleneck width: int(planes * (base_width / 64.)) * groups."""
    return b.let("width", trunc(c.filters * (c.width_per_group / 64.0)) * c.groups)


@block("basic", expansion=1)
def basic(b: Builder, c: BlockCall, ctx: Ctx):
    c = declare(b, c, 1)
    out = b.let("out_channels", c.filters * c.expansion)
    y = conv(b, c, ctx, "conv1", c.x, c.filters, 3, c.stride)
    y = act(b, c, ctx, "act1", norm(b, c, ctx, "bn1", y))
    y = conv(b, c, ctx, "conv2", y, out, 3)
    y = attend(b, c, ctx, norm(b, c, ctx, "bn2", y, zero=c.zero_init_last), out)
    sc, kind = shortcut(b, c, ctx, c.x, out, c.stride, norm_after=True)
    return _finish(b, c, ctx, y, sc, kind, True), out, kind


@block("bottleneck", expansion=4)
def bottleneck(b: Builder, c: BlockCall, ctx: Ctx):
    c = declare(b, c, 4)
    out = b.let("out_channels", c.filters * c.expansion)
    width = _width(b, c)
    s1, s3 = _strides(c)
    y = conv(b, c, ctx, "conv1", c.x, width, 1, s1)
    y = act(b, c, ctx, "act1", norm(b, c, ctx, "bn1", y))
    y = conv(b, c, ctx, "conv2", y, width, 3, s3, groups=c.groups)
    y = act(b, c, ctx, "act2", norm(b, c, ctx, "bn2", y))
    y = conv(b, c, ctx, "conv3", y, out, 1)
    y = attend(b, c, ctx, norm(b, c, ctx, "bn3", y, zero=c.zero_init_last), out)
    sc, kind = shortcut(b, c, ctx, c.x, out, c.stride, norm_after=True)
    return _finish(b, c, ctx, y, sc, kind, True), out, kind


def _preact(b, c, ctx):
    return act(b, c, ctx, "preact_act", norm(b, c, ctx, "preact_bn", c.x))


# Pre-activation (ResNet V2, He et al. 2016): convs that feed a norm never take a
# bias; the conv feeding the addition and a projection follow `defaults.conv.bias`
# (keras.applications V2 has a bias exactly there). The projection reads the
# pre-activated input and has no norm: the next block's pre-activation provides it.
@block("preact_basic", expansion=1)
def preact_basic(b: Builder, c: BlockCall, ctx: Ctx):
    c = declare(b, c, 1)
    out = b.let("out_channels", c.filters * c.expansion)
    pre = _preact(b, c, ctx)
    y = conv(b, c, ctx, "conv1", pre, c.filters, 3, c.stride, bias=False)
    y = act(b, c, ctx, "act1", norm(b, c, ctx, "bn1", y))
    y = attend(b, c, ctx, conv(b, c, ctx, "conv2", y, out, 3), out)
    sc, kind = shortcut(b, c, ctx, c.x, out, c.stride, norm_after=False, source=pre)
    return _finish(b, c, ctx, y, sc, kind, False), out, kind


@block("preact_bottleneck", expansion=4)
def preact_bottleneck(b: Builder, c: BlockCall, ctx: Ctx):
    c = declare(b, c, 4)
    out = b.let("out_channels", c.filters * c.expansion)
    width = _width(b, c)
    s1, s3 = _strides(c)
    pre = _preact(b, c, ctx)
    y = conv(b, c, ctx, "conv1", pre, width, 1, s1, bias=False)
    y = act(b, c, ctx, "act1", norm(b, c, ctx, "bn1", y))
    y = conv(b, c, ctx, "conv2", y, width, 3, s3, groups=c.groups, bias=False)
    y = act(b, c, ctx, "act2", norm(b, c, ctx, "bn2", y))
    y = attend(b, c, ctx, conv(b, c, ctx, "conv3", y, out, 1), out)
    sc, kind = shortcut(b, c, ctx, c.x, out, c.stride, norm_after=False, source=pre)
    return _finish(b, c, ctx, y, sc, kind, False), out, kind
