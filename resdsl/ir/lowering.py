"""Spec -> IR graph: input, stem, stages of blocks, head. Shapes come later,
from the passes; lowering only tracks channels and strides, which is all a
block needs to choose its shortcut."""
from __future__ import annotations

import networkx as nx

from ..errors import SpecError
from ..spec.load import LoadedSpec
from .blocks import BLOCKS, BlockCall
from .graph import BlockInfo, Builder, Recording, StageInfo
from .layers import Ctx, Namer, lower_layers
from .outputs import output_nodes
from .replay import Replay, same_call
from .userblocks import UserBlockLowering


def base_ctx(spec: LoadedSpec) -> Ctx:
    d = spec.model.defaults
    return Ctx(conv_bias=d.conv.bias, conv_init=d.conv.init, eps=d.norm.eps, momentum=d.norm.momentum,
               act=d.activation, dense_bias=d.dense.bias, dense_init=d.dense.init,
               zero_init_last=d.norm.zero_init_last, norm_type=d.norm.type, norm_groups=d.norm.groups,
               conv_standardize=d.conv.standardize, conv_standardize_eps=d.conv.standardize_eps,
               text=spec.source.text)


def stage_ctx(ctx: Ctx, stage) -> Ctx:
    from dataclasses import replace
    return replace(
        ctx,
        conv_bias=ctx.conv_bias if stage.conv.bias is None else stage.conv.bias,
        conv_init=stage.conv.init or ctx.conv_init,
        eps=stage.norm.eps if stage.norm.eps is not None else ctx.eps,
        momentum=stage.norm.momentum if stage.norm.momentum is not None else ctx.momentum,
        act=stage.activation or ctx.act,
        zero_init_last=ctx.zero_init_last if stage.zero_init_last_norm is None else stage.zero_init_last_norm,
        norm_type=stage.norm.type or ctx.norm_type,
        norm_groups=stage.norm.groups if stage.norm.groups is not None else ctx.norm_groups,
    )


def lower(spec: LoadedSpec, replay: bool = True) -> tuple[nx.DiGraph, str, list[BlockInfo], list[StageInfo],
                                                          list[Recording]]:
    """The graph (before the passes), its last node, the blocks, the stages and each
    block's recorded template. `replay=False` lowers every block anew, instead of
    copying a block called as the one before it (ir/replay.py): the same result."""
    m, span = spec.model, spec.span
    g = nx.DiGraph()
    b = Builder(g, spec.source.text, spec.limits.max_graph_nodes)
    ctx = base_ctx(spec)
    user = UserBlockLowering(spec, spec.limits.max_block_nesting)
    b.scope = {"section": "input", "prefix": ""}
    x = b.add("input", "input", {"shape": (m.input.channels, m.input.height, m.input.width)}, [],
              span(("input",)))
    top_names = Namer()  # stem and head share the top-level namespace

    b.scope = {"section": "stem", "prefix": ""}
    x, channels, _ = lower_layers(b, m.stem, x, ctx, ("stem",), span, top_names, m.input.channels)

    blocks: list[BlockInfo] = []
    stages: list[StageInfo] = []
    recordings = []
    for si, stage in enumerate(m.stages):  # before any per-block list is sized by the repeats
        _check_stage_blocks(spec, si, stage)
        if stage.depth > spec.limits.max_repeat:
            where = ("stages", si, "repeat") if stage.blocks is None else ("stages", si, "blocks")
            raise spec.error(where, "too-large",
                             f"repeat {stage.depth} exceeds the limit of {spec.limits.max_repeat}",
                             "raise it with --limit max_repeat=N")
    n_blocks = sum(st.depth for st in m.stages)
    rates = iter(drop_path_rates(m.drop_path_rate, n_blocks) if m.drop_path_rate > 0 else [None] * n_blocks)
    for si, stage in enumerate(m.stages):
        sname = stage.name or f"layer{si + 1}"
        sctx = stage_ctx(ctx, stage)
        _check_stage_keys(spec, si, stage)
        names = []
        # The replay of the stage's previous block: its call and what lowering returned, and its kind.
        plan, last, last_kind = None, None, None
        stage_span = span(("stages", si))
        shortcut_span = span(("stages", si, "shortcut")) if "shortcut" in stage.model_fields_set else stage_span
        # Each block's kind, arguments and the spans of its kind and arguments: one run, or a
        # stage's `blocks:` runs (whose own `args` are located there).
        kinds = []
        for kind, n, args, where in stage.runs():
            own = where[:-1] + ("args",) if where[:-1] and stage.blocks[where[1]].args else None
            args_span = span(("stages", si) + own) if own else span(("stages", si, "args")) if stage.args \
                else stage_span
            kinds += [(kind, args, span(("stages", si) + where), args_span)] * n
        for j, (kind, args, block_span, args_span) in enumerate(kinds):
            at_stride = j == (len(kinds) - 1 if stage.stride_position == "last" else 0)
            stride = stage.stride if at_stride else 1
            bname = f"{sname}.{j}"
            b.scope = {"section": "stage", "stage": sname, "block": bname, "prefix": bname + "."}
            call = BlockCall(
                x=x, in_channels=channels, filters=stage.filters, stride=stride,
                expansion=stage.expansion, groups=stage.groups, width_per_group=stage.width_per_group,
                stride_on=stage.stride_on, shortcut=stage.shortcut, projection_on=stage.projection_on,
                zero_init_last=sctx.zero_init_last, span=block_span, attention=stage.attention,
                drop_path=next(rates), shortcut_span=shortcut_span)
            b.begin_block(kind, x)
            if kind in BLOCKS:
                if stage.filters is None:
                    raise spec.error(("stages", si), "missing-key",
                                     f"stage '{sname}' needs `filters` for a '{kind}' block")
                if replay and last is not None and last_kind == kind and same_call(call, last[0]):
                    plan = plan or Replay.of(b, recordings[-1], *last[1:])
                    y, out, kind_built = plan.apply(b, x)
                else:
                    y, out, kind_built = BLOCKS[kind].lower(b, call, sctx)
                    plan = None
                last, last_kind = (call, y, out, kind_built), kind
            else:
                env = user.env_for(kind, stage.filters, stride, args, sctx, args_span)
                explicit = "shortcut" in stage.model_fields_set
                env, call = user.declare(b, env, BlockCall(**{**call.__dict__,
                                                              "shortcut": stage.shortcut if explicit else None}))
                y, out, kind_built, _ = user.lower(b, kind, call, sctx, env, ("blocks", kind))
                plan, last = None, None
            recordings.append(b.end_block())
            blocks.append(BlockInfo(bname, sname, j, kind, {}, kind_built, x, y, call.span))
            names.append(bname)
            x, channels = y, int(out)
        runs = tuple((kind, n) for kind, n, _, _ in stage.runs())
        stages.append(StageInfo(sname, runs[0][0] if len(runs) == 1 else " + ".join(k for k, _ in runs),
                                len(kinds), stage.stride, tuple(names), stage_span, kinds=runs))

    b.scope = {"section": "head", "prefix": ""}
    x, _, _ = lower_layers(b, m.head, x, ctx, ("head",), span, top_names, channels)
    # The graph carries its outputs, so the passes can check that every layer feeds one.
    g.graph["outputs"], g.graph["output_names"] = output_nodes(spec, g, x, blocks, stages)
    return g, x, blocks, stages, recordings


def drop_path_rates(rate: float, blocks: int) -> list[float]:
    """timm's schedule: block i of n drops its branch with rate * i / (n - 1), from 0
    at the first block to the full rate at the last."""
    return [rate * i / max(blocks - 1, 1) for i in range(blocks)]


# Stage keys that only built-in blocks read, and the one only user blocks read: a
# key that would be silently ignored is an error instead.
_BUILTIN_ONLY = ("expansion", "groups", "width_per_group", "stride_on", "projection_on", "zero_init_last_norm",
                 "attention")


def _check_stage_blocks(spec: LoadedSpec, si: int, stage) -> None:
    """A stage names its blocks once: `block` (and `repeat`), or `blocks`."""
    if (stage.block is None) == (stage.blocks is None):
        both = stage.block is not None
        raise spec.error(("stages", si, "blocks") if both else ("stages", si), "bad-value" if both else "missing-key",
                         "a stage takes `block` or `blocks`, not both" if both else
                         "a stage needs `block` (one kind of block) or `blocks` (runs of several kinds)",
                         "e.g. `block: bottleneck, repeat: 3`, or `blocks: [{block: first}, {block: rest, repeat: 2}]`")
    if stage.blocks is not None and "repeat" in stage.model_fields_set:
        raise SpecError.at(spec.span(("stages", si, "repeat"), key=True), "ignored-key",
                           "'repeat' has no effect beside `blocks` (each run has its own `repeat`)",
                           "give each run its `repeat`", spec.source.text)


def _check_stage_keys(spec: LoadedSpec, si: int, stage) -> None:
    """Keys that no block of the stage reads (a user-block key beside built-in blocks only,
    or the reverse) are errors; so are arguments given to a run of built-in blocks."""
    kinds = [kind for kind, _, _, _ in stage.runs()]
    builtin, user = any(k in BLOCKS for k in kinds), any(k not in BLOCKS for k in kinds)
    ignored = (() if user else ("args",)) + (() if builtin else _BUILTIN_ONLY)
    for key in ignored:
        if key in stage.model_fields_set:
            kind = "a built-in" if builtin else "a user-defined"
            hint = ("built-in blocks take their settings as stage keys" if builtin
                    else f"declare it under `params:` of block '{kinds[0]}' and pass it in `args:`")
            raise SpecError.at(spec.span(("stages", si, key), key=True), "ignored-key",
                               f"'{key}' has no effect on {kind} block ('{kinds[0]}')", hint, spec.source.text)
    for i, run in enumerate(stage.blocks or ()):
        if run.block in BLOCKS and "args" in run.model_fields_set:
            raise SpecError.at(spec.span(("stages", si, "blocks", i, "args"), key=True), "ignored-key",
                               f"'args' has no effect on a built-in block ('{run.block}')",
                               "built-in blocks take their settings as stage keys", spec.source.text)
