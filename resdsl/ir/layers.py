"""Lowering of single spec layers (conv, norm, pools, ...) into IR nodes.

`Ctx` carries the defaults in force (spec defaults, then stage overrides) and the
parameter environment of a user block, so `$filters` is substituted here and
nowhere else.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from ..errors import Span, SpecError, did_you_mean
from ..spec.layers import layer_op, layer_params
from .arith import ExprError, evaluate
from .attention import eca, se
from .graph import Builder
from .ops import OPS


@dataclass(frozen=True)
class Ctx:
    conv_bias: bool
    conv_init: str
    eps: float
    momentum: float
    act: str
    dense_bias: bool
    dense_init: str
    zero_init_last: bool
    norm_type: str = "batchnorm"
    norm_groups: int = 32
    conv_standardize: bool = False
    conv_standardize_eps: float = 1e-6
    env: dict = field(default_factory=dict)  # user-block parameters
    text: str | None = None                  # spec source, for carets

    def error(self, span: Span, code: str, msg: str, hint: str | None = None) -> SpecError:
        return SpecError.at(span, code, msg, hint, self.text)

    def value(self, v, span: Span, minimum: int | None = None, what: str = "the value"):
        """Substitute a `$name` parameter reference or compute an expression of
        parameters (`$filters * 4`); with `minimum`, check the result."""
        if isinstance(v, str) and "$" in v:
            text = v.strip()
            if re.fullmatch(r"\$[A-Za-z_][A-Za-z0-9_]*", text):
                out = self._lookup(text[1:], span)
            else:
                try:
                    out = evaluate(text, lambda name, col: self._lookup(name, span))
                except ExprError as exc:
                    raise self.error(span, "bad-expression", str(exc), exc.hint) from None
            if minimum is not None and out < minimum:
                raise self.error(span, "bad-value", f"{what} must be at least {minimum}, but '{v}' gives {int(out)}",
                                 "check the parameters the stage passes (`filters`, `stride`, `args`)")
            return out
        if isinstance(v, list):
            return [self.value(x, span, minimum, what) for x in v]
        return v

    def _lookup(self, key: str, span: Span):
        if key not in self.env:
            known = sorted(self.env)
            hint = did_you_mean(key, known) or (
                f"known parameters: {', '.join('$' + k for k in known)}" if known
                else "parameter references work only inside user blocks")
            raise self.error(span, "unknown-parameter", f"unknown parameter '${key}'", hint)
        if self.env[key] is None:
            raise self.error(span, "missing-parameter", f"parameter '${key}' has no value",
                             "give it in the stage: `filters:`, or `args: {name: value}`")
        return self.env[key]

    def with_env(self, env: dict) -> "Ctx":
        return replace(self, env=env)


def pair(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (v[0], v[1])


def padding_attrs(v) -> dict:
    """'same' stays symbolic until the shape pass knows the input size."""
    if v == "same":
        return {"padding_mode": "same", "padding": None}
    if v == "valid":
        return {"padding_mode": "explicit", "padding": (0, 0, 0, 0)}
    if isinstance(v, int):
        return {"padding_mode": "explicit", "padding": (v, v, v, v)}
    if len(v) == 2:
        return {"padding_mode": "explicit", "padding": (v[0], v[0], v[1], v[1])}
    if len(v) == 4:
        return {"padding_mode": "explicit", "padding": tuple(v)}
    raise ValueError("padding is an int, [h, w] or [top, bottom, left, right]")


class Namer:
    """Default names like torchvision's: conv1, bn1, ... counted per prefix (the
    op's OpDef prefix; a nested user block, which is no op, is `block1`, ...)."""

    def __init__(self):
        self.counts: dict[str, int] = {}

    def __call__(self, op: str) -> str:
        prefix = OPS[op].prefix if op in OPS else op
        self.counts[prefix] = self.counts.get(prefix, 0) + 1
        return f"{prefix}{self.counts[prefix]}"


def lower_layer(b: Builder, item, x: str, ctx: Ctx, span: Span, namer: Namer, channels: int,
                role: str | None = None, nested=None) -> tuple[str, int | None, int]:
    """Add one layer after node `x`. Returns (node, channel change or None, stride).

    The channel/stride effect lets user blocks decide on a projection shortcut
    before the shape pass runs."""
    op, p = layer_op(item), layer_params(item)
    if op == "block":
        if nested is None:
            raise ctx.error(span, "misplaced-block", "a `block` layer can only appear inside a user block",
                            "use a stage to repeat blocks")
        return nested(b, p, x, ctx, span, namer, channels)
    if getattr(p, "from_", None) is not None:  # a branch: read an earlier tensor, not the previous layer
        x = same_block(b, ctx, p.from_, span, "read")
    name = p.name or namer(op)
    def val(v, what: str | None = None, minimum: int = 1):
        """A value of the layer; `what` names a field that must be at least `minimum`."""
        return ctx.value(v, span, minimum if what else None, what or "")
    try:
        if op == "conv":
            attrs = {"filters": val(p.filters, "conv filters"), "kernel": pair(val(p.kernel, "the conv kernel")),
                     "stride": pair(val(p.stride, "the conv stride")), "groups": val(p.groups, "conv groups"),
                     "bias": ctx.conv_bias if p.bias is None else p.bias,
                     "init": p.init or ctx.conv_init, **padding_attrs(val(p.padding, "padding", 0))}
            dilation = pair(val(p.dilation, "the conv dilation"))
            if dilation != (1, 1):  # the plain case keeps its old attributes
                attrs["dilation"] = dilation
            attrs.update(standardize_attrs(ctx, p.standardize, p.standardize_eps))
            return b.add(op, name, attrs, [x], span, role), attrs["filters"], attrs["stride"][0]
        if op == "norm":
            kind = p.type or ctx.norm_type
            attrs = {"type": kind, "eps": p.eps if p.eps is not None else ctx.eps,
                     "momentum": p.momentum if p.momentum is not None else ctx.momentum,
                     "gamma_init": "zeros" if p.zero_init else "ones",
                     "groups": (val(p.groups, "norm groups") if p.groups is not None else ctx.norm_groups)
                     if kind == "groupnorm" else 0}
            return b.add(op, name, attrs, [x], span, role), None, 1
        if op == "act":
            return b.add(op, name, {"fn": p.fn or ctx.act}, [x], span, role), None, 1
        if op in ("maxpool", "avgpool"):
            size = pair(val(p.size, "the pool size"))
            stride = pair(val(p.stride, "the pool stride")) if p.stride is not None else size
            attrs = {"kernel": size, "stride": stride, **padding_attrs(val(p.padding, "padding", 0))}
            if op == "avgpool" and (p.ceil_mode or not p.count_include_pad):  # defaults stay implicit
                attrs.update(ceil_mode=p.ceil_mode, count_include_pad=p.count_include_pad)
            return b.add(op, name, attrs, [x], span, role), None, stride[0]
        if op == "zeropad":
            pad = padding_attrs(val(p.padding, "padding", 0))["padding"]
            return b.add(op, name, {"padding": pad}, [x], span, role), None, 1
        if op == "flatten":
            return b.add(op, name, {}, [x], span, role), None, 1
        if op in ("global_avgpool", "global_maxpool", "global_avgmaxpool"):
            attrs = {"keepdims": True} if p.keepdims else {}  # the plain case keeps its old attributes
            return b.add(op, name, attrs, [x], span, role), None, 1
        if op == "dropout":
            return b.add(op, name, {"rate": p.rate}, [x], span, role), None, 1
        if op == "multiply":
            return b.add(op, name, {}, [same_block(b, ctx, p.with_, span), x], span, role), None, 1
        if op == "add":
            return b.add(op, name, {"shortcut": "custom"}, [x, same_block(b, ctx, p.with_, span, "add")], span,
                         role), None, 1
        if op == "split":
            return split(b, ctx, p, name, x, channels, val, span, role)
        if op == "concat":
            ins = [same_block(b, ctx, n, span, "concatenate") for n in p.inputs]
            widths = [b.channels.get(n) for n in ins]
            total = None if None in widths else sum(widths[1:], widths[0])
            return b.add(op, name, {}, ins, span, role), total, 1
        if op == "softmax":
            if (p.axis == "paths") != (p.paths is not None):
                raise ctx.error(span, "bad-value", "softmax takes `paths` exactly when its axis is paths",
                                "write `softmax: {axis: paths, paths: 2}`" if p.axis == "paths"
                                else "drop `paths`, or give `axis: paths`")
            attrs = {"axis": p.axis}
            if p.axis == "paths":
                attrs.update(paths=at_least(ctx, val(p.paths, "softmax paths", 2), 2, "softmax paths", span),
                             groups=val(p.groups, "softmax groups"))
            return b.add(op, name, attrs, [x], span, role), None, 1
        if op == "blur_pool":
            k = at_least(ctx, val(p.size, "the blur_pool size", 2), 2, "the blur_pool size", span)
            stride = val(p.stride, "the blur_pool stride")
            pad = ((stride - 1) + (k - 1)) // 2 if p.padding is None else val(p.padding, "padding", 0)
            attrs = {"kernel": k, "stride": stride, "padding": padding_attrs(pad)["padding"], "pad_mode": p.pad_mode}
            return b.add(op, name, attrs, [x], span, role), None, stride
        if op == "attention_pool":
            source = same_block(b, ctx, p.with_, span, "pool")
            return b.add(op, name, {}, [source, x], span, role), b.channels.get(source), 1
        if op == "channel_conv":
            attrs = {"kernel": val(p.kernel, "the channel_conv kernel"), "bias": p.bias}
            return b.add(op, name, attrs, [x], span, role), None, 1
        if op == "se":
            return se(b, x, channels, p, ctx, span, role, p.name or "se"), None, 1
        if op == "eca":
            kernel = val(p.kernel, "the eca kernel") if p.kernel is not None else None
            return eca(b, x, channels, p, kernel, span, role, p.name or "eca"), None, 1
        if op == "dense":
            attrs = {"units": val(p.units, "dense units"), "activation": p.activation or "linear",
                     "bias": ctx.dense_bias if p.bias is None else p.bias, "init": p.init or ctx.dense_init}
            return b.add(op, name, attrs, [x], span, role), attrs["units"], 1
    except ValueError as exc:
        raise ctx.error(span, "bad-value", str(exc)) from None
    raise AssertionError(f"layer op {op!r} has no lowering")  # the spec models admit no other


def standardize_attrs(ctx: Ctx, standardize: bool | None, eps: float | None) -> dict:
    """A conv's weight-standardisation attributes: the layer's, else the defaults'
    (none at all for a plain conv, which keeps its old attributes)."""
    on = ctx.conv_standardize if standardize is None else standardize
    return {"standardize": True, "standardize_eps": ctx.conv_standardize_eps if eps is None else eps} if on else {}


def at_least(ctx: Ctx, v, minimum: int, what: str, span: Span):
    """`v`, or a located error where a plain value is below `minimum` (a `$ref`'s
    minimum is checked where it is computed)."""
    if v < minimum:
        raise ctx.error(span, "bad-value", f"{what} must be at least {minimum}, but it is {int(v)}")
    return v


def split(b: Builder, ctx: Ctx, p, name: str, x: str, channels, val, span: Span, role) -> tuple[str, object, int]:
    """A split's parts, each its own node `<name>.<i>` reading `x`; returns part 0.
    Each part's width is known to later layers that read it by name (`from:`)."""
    if (p.parts is None) == (p.sizes is None):
        raise ctx.error(span, "bad-value", "split takes `parts` or `sizes`, not both or neither",
                        "`split: {parts: 2}` for equal parts, `split: {sizes: [16, 48]}` for given ones")
    if p.parts is not None:
        n = at_least(ctx, val(p.parts, "split parts", 2), 2, "split parts", span)
        attrs, widths = {"parts": n}, [None if channels is None else channels // n] * int(n)
    else:
        sizes = tuple(val(s, "a split size") for s in p.sizes)
        attrs, widths = {"sizes": sizes}, list(sizes)
    first = None
    for i, width in enumerate(widths):
        node = b.add("split", f"{name}.{i}", {"index": i, **attrs}, [x], span, role)
        b.channels[node] = width
        first = first or node
    return first, widths[0], 1


# What `from:` / `with:` call a user block's input; in a stem or head, the network's input.
INPUT = "input"


def same_block(b: Builder, ctx: Ctx, local: str, span: Span, verb: str = "multiply with") -> str:
    """The node an earlier layer of the current block (or stem/head) is called `local`."""
    prefix, block = b.scope.get("prefix", ""), b.scope.get("block")
    node = f"{prefix}{local}"
    if local == INPUT and b.scope.get("input") and (node not in b.graph or b.graph.nodes[node].get("block") != block):
        return b.scope["input"]  # the block's own input (a layer of that name would win)
    if node not in b.graph or b.graph.nodes[node].get("block") != block:
        known = [d["local"] for n, d in b.graph.nodes(data=True)
                 if d.get("block") == block and n.startswith(prefix) and d["op"] != "input"]
        raise ctx.error(span, "unknown-tensor", f"no earlier layer named '{local}' here to {verb}",
                        did_you_mean(local, known) or "name a layer that comes before, in the same block")
    return node


def lower_layers(b: Builder, items: list, x: str, ctx: Ctx, path: tuple, spans, namer: Namer,
                 channels: int, role: str | None = None, nested=None) -> tuple[str, int, int]:
    """Lower a list of layers; returns (last node, channels, total stride)."""
    start, stride, own, branched = x, 1, {}, False
    for i, item in enumerate(items):
        p = layer_params(item)
        if getattr(p, "from_", None) is not None:
            branched = True
            node = f"{b.scope.get('prefix', '')}{p.from_}"
            if node in b.channels:
                channels = b.channels[node]
            elif p.from_ == INPUT and b.scope.get("input"):
                channels = b.scope["input_channels"]
        x, ch, s = lower_layer(b, item, x, ctx, spans(path + (i,)), namer, channels, role, nested)
        channels = ch if ch is not None else channels
        b.channels[x] = channels
        own[x] = s
        stride *= s
    # With branches (`from:`), layers off the path to the last one do not stride it.
    return x, channels, _stride_along(b, x, start, own) if branched else stride


def _stride_along(b: Builder, node: str, start: str, own: dict) -> int:
    """The stride from `start` to `node`: the product of the layers' strides on the
    way back along each op's first input (the tensor it transforms; a gate's or a
    branch's other input does not move the map)."""
    total, pred = 1, b.graph._pred
    while node != start and pred.get(node):
        s = own.get(node, 1)
        if not (type(s) is int and s == 1):  # plain ones would only clutter the expression (`1 * stride`)
            total = s if type(total) is int and total == 1 else total * s
        node = next(u for u, e in pred[node].items() if e["port"] == 0)
    return total
