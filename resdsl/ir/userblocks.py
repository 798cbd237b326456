"""User-defined blocks: a main path of layers, a shortcut, and what follows the
addition, all written in YAML with `$parameter` references. Enough to write the
seed-000 block (conv -> ReLU -> BN) with no Python."""
from __future__ import annotations

from ..errors import did_you_mean
from ..spec.models import CustomShortcut
from .blocks import BlockCall, _shortcut, drop_path, residual_add, shortcut
from .graph import Builder
from .layers import Ctx, Namer, lower_layers, same_block


class UserBlockLowering:
    """Lowers uses of the spec's `blocks:`; one instance per spec."""

    def __init__(self, spec, max_nesting: int):
        self.spec, self.max_nesting = spec, max_nesting
        self.depth = 0

    def env_for(self, bname: str, filters, stride: int, args: dict, ctx: Ctx, span) -> dict:
        block = self.spec.model.blocks[bname]
        env = {k: v for k, v in block.params.items()}
        env.update(filters=filters, stride=stride)
        for key, value in args.items():
            if key in ("filters", "stride"):
                raise ctx.error(span, "bad-value", f"pass '{key}' as the stage's own key, not in args")
            if key not in block.params:
                known = sorted(block.params)
                raise ctx.error(span, "unknown-parameter", f"block '{bname}' has no parameter '{key}'",
                                did_you_mean(key, known) or (f"its parameters: {', '.join(known)}"
                                                              if known else "it declares no parameters"))
            env[key] = ctx.value(value, span)
        return env

    def declare(self, b: Builder, env: dict, c: BlockCall) -> tuple[dict, BlockCall]:
        """A stage's use of a user block: its parameters become the definition's
        (symbolic, so `filters: $filters` stays `filters` in emitted code)."""
        env = {k: b.param(k, v) for k, v in env.items()}
        return env, BlockCall(**{**c.__dict__, "in_channels": b.param("in_channels", c.in_channels),
                                 "drop_path": b.param("drop_path_rate", c.drop_path)})

    def lower(self, b: Builder, bname: str, c: BlockCall, ctx: Ctx, env: dict,
              path: tuple) -> tuple[str, int, str, int]:
        """Returns (output node, out channels, shortcut kind, total stride)."""
        self.depth += 1
        if self.depth > self.max_nesting:
            raise ctx.error(c.span, "too-deep", f"user blocks nest more than {self.max_nesting} levels")
        outer = b.scope.get("input"), b.scope.get("input_channels")
        b.scope["input"], b.scope["input_channels"] = c.x, c.in_channels  # what `from: input` reads
        try:
            block = self.spec.model.blocks[bname]
            ctx = ctx.with_env(env)
            spans, namer = self.spec.span, Namer()
            top = self.depth == 1  # only a stage's block has a shortcut its definition may leave out
            y, channels, stride = lower_layers(b, block.main, c.x, ctx, path + ("main",), spans, namer,
                                               c.in_channels, nested=self.nested)
            mode = c.shortcut or block.shortcut  # a stage's explicit `shortcut:` wins
            if not isinstance(mode, str):
                sc, kind = self._custom(b, block, mode, c, ctx, channels, stride, path, top)
            else:
                call = BlockCall(**{**c.__dict__, "shortcut": mode,
                                    "shortcut_span": c.shortcut_span if c.shortcut else spans(path + ("shortcut",))})
                if top:
                    sc, kind = shortcut(b, call, ctx, c.x, channels, stride, norm_after=block.projection_norm)
                else:
                    sc, kind = _shortcut(b, call, ctx, c.x, channels, stride, block.projection_norm, None)
            if sc is not None:
                span = spans(path + ("shortcut",))
                if top:
                    y = residual_add(b, drop_path(b, c, y), sc, kind, span)
                else:
                    y = b.add("add", "add", {"shortcut": kind}, [y, sc], span)
            y, channels, _ = lower_layers(b, block.after, y, ctx, path + ("after",), spans, namer,
                                          channels, nested=self.nested)
            return y, channels, kind, stride
        finally:
            self.depth -= 1
            b.scope["input"], b.scope["input_channels"] = outer

    def _custom(self, b: Builder, block, mode, c: BlockCall, ctx: Ctx, channels: int, stride: int, path: tuple,
                top: bool) -> tuple[str, str]:
        """A shortcut written as layers. Like a projection, it is built where the
        block changes the shape (channels or stride) unless `when: always`; it reads
        the block input, or the main-path layer named by `from` (ResNet V2's
        projection reads the pre-activation), and its layers are `<name>.<layer>`."""
        custom = mode if isinstance(mode, CustomShortcut) else CustomShortcut(layers=mode)
        where = path + ("shortcut",) + (("layers",) if isinstance(mode, CustomShortcut) else ())
        if custom.when == "shape_changes" and channels == c.in_channels and stride == 1:
            return c.x, "identity"
        source = c.x
        if custom.from_ is not None:
            source = same_block(b, ctx, custom.from_, self.spec.span(path + ("shortcut", "from")))
        prefix = b.scope.get("prefix", "")
        b.scope["prefix"] = f"{prefix}{custom.name}."
        b.in_shortcut = top
        try:
            sc, _, _ = lower_layers(b, custom.layers, source, ctx, where, self.spec.span, Namer(), c.in_channels,
                                    role="shortcut", nested=self.nested)
        finally:
            b.scope["prefix"], b.in_shortcut = prefix, False
        return sc, "custom"

    def nested(self, b: Builder, p, x: str, ctx: Ctx, span, namer: Namer, channels: int):
        """A `- block: {type: ...}` layer inside another user block."""
        name = p.name or namer("block")
        filters = ctx.value(p.filters, span, 1, "a nested block's filters") if p.filters is not None else None
        stride = ctx.value(p.stride, span, 1, "a nested block's stride")
        env = self.env_for(p.type, filters, stride, p.args, ctx, span)
        prefix = b.scope.get("prefix", "")
        b.scope["prefix"] = f"{prefix}{name}."
        c = BlockCall(x=x, in_channels=channels, filters=filters, stride=stride, expansion=None,
                      groups=1, width_per_group=64, stride_on="3x3", shortcut=None,
                      projection_on="shape", zero_init_last=False, span=span, shortcut_span=span)
        try:
            y, out, _, total_stride = self.lower(b, p.type, c, ctx, env, ("blocks", p.type))
        finally:
            b.scope["prefix"] = prefix
        return y, out, total_stride
