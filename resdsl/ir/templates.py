"""Block definitions from what lowering recorded: the IR's second level.

Lowering records each block instance as a template (ir.graph.Recording): its
nodes with attributes that are expressions of the block's parameters
(`filters * expansion`), the derived values it named (`width = ...`), the
parameters' values, and which nodes form the block's own shortcut. Here the
instances become definitions, once the shape pass has run:

- instances whose templates agree (kind, ops, wiring, expressions) share one
  definition; the block's own shortcut path is optional in it, so a stage's
  first block with a projection and the identity blocks after it are one
  definition with `downsample` on or off — as torchvision's `Bottleneck(...,
  downsample=None)`; shortcut paths of different kinds that are chains (each
  layer reading the one before it) are variants of one definition, even where
  they start from different tensors (keras.applications' `block2(...,
  conv_shortcut=False)` projects the pre-activation and subsamples x);
- an attribute that is a plain value in the template but differs between
  instances (a 'same' padding the shape pass resolved differently, an
  activation a stage overrides) becomes a parameter named after where it sits
  (`conv1_padding`);
- a parameter equal in every instance becomes a default of the definition.

Nothing is inferred from coincidences of values: what is a parameter and what
an expression was said by the lowering function that wrote the block.
"""
from __future__ import annotations

import re
from dataclasses import replace

import networkx as nx

from .expr import Ref, is_symbolic
from .graph import INPUT, SHORTCUT, BlockDef, BlockInfo, Recording, Run, StageInfo, TemplateNode

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Parameters first in this order, as torchvision's blocks take them.
ARG_ORDER = ("in_channels", "filters", "stride")
# Defaults a parameter has even where instances differ (torchvision's stride=1, downsample=None).
NATURAL_DEFAULTS = {"stride": 1, "downsample": False, "drop_path_rate": 0.0}


def _sig(v):
    if is_symbolic(v):
        return ("expr", v.text)
    if isinstance(v, tuple) and any(is_symbolic(x) for x in v):
        return ("tuple", tuple(_sig(x) for x in v))
    return "literal"


# Attributes that choose a different layer class, not an argument: blocks that differ
# there get definitions of their own (a stage with group norm beside batch-norm stages).
STRUCTURAL = {("norm", "type")}


def _node_key(n: TemplateNode) -> tuple:
    return (n.local, n.op, n.inputs, n.role,
            tuple((k, v if (n.op, k) in STRUCTURAL else _sig(v)) for k, v in n.attrs.items()))


class _Instance:
    """One block instance, split into its fixed part and its optional shortcut."""

    def __init__(self, info: BlockInfo, rec: Recording):
        self.info, self.rec = info, rec
        nodes = [self._wired(n) for n in rec.nodes]
        self.main = [n for n in nodes if n.local not in rec.optional]
        self.shortcut = [n for n in nodes if n.local in rec.optional]
        # Derived values are named expressions the nodes refer to by name; a shortcut
        # path may add its own (`extra_channels`), so they are not part of the key.
        self.key = (rec.kind, tuple(rec.params), tuple(_node_key(n) for n in self.main))
        self.source = self.shortcut[0].inputs[0] if self.shortcut else None
        self.variant_key = tuple(_node_key(n) for n in self.shortcut)
        self.chain = all(n.inputs == (prev.local,) for prev, n in zip(self.shortcut, self.shortcut[1:]))

    def _wired(self, n: TemplateNode) -> TemplateNode:
        """The block's addition reads SHORTCUT, whether that is x or a shortcut path."""
        if n.local == self.rec.shortcut_add:
            return replace(n, inputs=(n.inputs[0], SHORTCUT))
        return n


class _Group:
    def __init__(self):
        self.members: list[_Instance] = []
        self.variants: dict[str, tuple] = {}   # name -> variant key
        self.variant_of: dict[int, str | None] = {}
        self.chains = True                      # every variant so far is a chain

    def accepts(self, inst: _Instance) -> bool:
        """Shortcut paths of different kinds share a definition only where each is a
        chain, so one call `downsample(source)` runs any of them; their sources may
        differ (an emitter passes the variant's)."""
        if inst.source is None:
            return True
        known = [key for key in self.variants.values()]
        return not known or inst.variant_key in known or (inst.chain and self.chains)

    def add(self, inst: _Instance) -> None:
        if inst.source is not None:
            self.chains = self.chains and inst.chain
        self.members.append(inst)
        name = None
        if inst.shortcut:
            name = next((v for v, key in self.variants.items() if key == inst.variant_key), None)
            if name is None:
                base = inst.rec.shortcut_kind
                name, i = base, 1
                while name in self.variants:
                    i += 1
                    name = f"{base}_{i}"
                self.variants[name] = inst.variant_key
        self.variant_of[id(inst)] = name


def _camel(s: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[._]", s) if part)


def assemble(g: nx.DiGraph, blocks: list[BlockInfo], stages: list[StageInfo],
             recordings: list[Recording]) -> tuple[dict[str, BlockDef], list[BlockInfo], list[StageInfo]]:
    """Definitions by name (first use first), and the blocks and stages that refer to them."""
    by_key: dict[tuple, list[_Group]] = {}
    order: list[_Group] = []
    instances = [_Instance(b, rec) for b, rec in zip(blocks, recordings)]
    for inst in instances:
        groups = by_key.setdefault(inst.key, [])
        group = next((gr for gr in groups if gr.accepts(inst)), None)
        if group is None:
            group = _Group()
            groups.append(group)
            order.append(group)
        group.add(inst)
    defs: dict[str, BlockDef] = {}
    block_of: dict[str, BlockInfo] = {}
    used_names: dict[str, int] = {}
    for group in order:
        d, infos = _define(g, group, used_names)
        defs[d.name] = d
        block_of.update((b.name, b) for b in infos)
    blocks = [block_of[b.name] for b in blocks]
    stages = [replace(st, runs=_runs([block_of[n] for n in st.blocks])) for st in stages]
    return defs, blocks, stages


def _define(g: nx.DiGraph, group: _Group, used_names: dict[str, int]) -> tuple[BlockDef, list[BlockInfo]]:
    first = group.members[0]
    rec = first.rec
    name = _camel(rec.kind) or "Block"
    used_names[name] = used_names.get(name, 0) + 1
    if used_names[name] > 1:
        name = f"{name}{used_names[name]}"
    main = list(first.main)
    variants: dict[str, list[TemplateNode]] = {}
    for vname, key in group.variants.items():
        inst = next(m for m in group.members if m.shortcut and m.variant_key == key)
        variants[vname] = list(inst.shortcut)
    values: list[dict] = [dict(m.rec.params) for m in group.members]
    extra_params: list[str] = []
    main = _fix_literals(g, group.members, main, lambda m: m.main, values, extra_params)
    for vname in variants:
        having = [m for m in group.members if group.variant_of[id(m)] == vname]
        variants[vname] = _fix_literals(g, having, variants[vname], lambda m: m.shortcut, values, extra_params,
                                        [group.members.index(m) for m in having])
    texts = [v.text for n in main + [n for ns in variants.values() for n in ns]
             for v in _symbols(n.attrs)]
    all_lets = list(dict.fromkeys(let for m in group.members for let in m.rec.lets))
    used = {w for t in texts for w in _IDENT.findall(t)}
    lets = []
    for k, t in reversed(all_lets):  # a value used only by another value counts as used
        if k in used:
            lets.insert(0, (k, t))
            used |= set(_IDENT.findall(t))
    params = [p for p in rec.params if p in used or p == "in_channels"]
    params = sorted(params, key=lambda p: ARG_ORDER.index(p) if p in ARG_ORDER else len(ARG_ORDER)) + extra_params
    optional = any(group.variant_of[id(m)] is None for m in group.members)
    if variants and (optional or len(variants) > 1):
        params.append("downsample")
        for m, v in zip(group.members, values):
            choice = group.variant_of[id(m)]
            v["downsample"] = choice if len(variants) > 1 else choice is not None
    args = [{p: v[p] for p in params} for v in values]
    defaults = {p: args[0][p] for p in params if all(a[p] == args[0][p] for a in args)}
    for p, natural in NATURAL_DEFAULTS.items():
        if p in params and p not in defaults:
            defaults[p] = natural if p != "downsample" or len(variants) == 1 else None
    # Python wants the parameters with defaults last.
    params = [p for p in params if p not in defaults] + [p for p in params if p in defaults]
    d = BlockDef(name, rec.kind, params, defaults, lets, main, variants, optional, main[-1].local,
                 [m.info.name for m in group.members])
    infos = [replace(m.info, args=a, block_def=name, variant=group.variant_of[id(m)])
             for m, a in zip(group.members, args)]
    return d, infos


def _symbols(attrs) -> list:
    out = []
    for v in attrs.values():
        if is_symbolic(v):
            out.append(v)
        elif isinstance(v, tuple):
            out.extend(x for x in v if is_symbolic(x))
    return out


def _fix_literals(g, members, nodes, part, values, extra_params, index=None) -> list[TemplateNode]:
    """Give each plain attribute its value after the shape pass; one that differs
    between instances becomes a parameter `<local>_<attr>`."""
    index = index if index is not None else list(range(len(members)))
    out = []
    for pos, n in enumerate(nodes):
        changes = {}
        for k, v in n.attrs.items():
            if _sig(v) != "literal" or (n.op, k) == ("add", "shortcut"):  # a description, not an argument
                continue
            seen = [g.nodes[m.rec.prefix + part(m)[pos].local]["attrs"][k] for m in members]
            if all(s == seen[0] for s in seen):
                changes[k] = seen[0]
                continue
            pname = re.sub(r"\W", "_", f"{n.local}_{k}")
            if pname not in extra_params:
                extra_params.append(pname)
            for i, s in zip(index, seen):
                values[i][pname] = s
            changes[k] = Ref(seen[0], pname)
        out.append(replace(n, attrs=n.attrs.replace(**changes)) if changes else n)
    return out


def _runs(blocks: list[BlockInfo]) -> tuple[Run, ...]:
    runs: list[Run] = []
    for b in blocks:
        last = runs[-1] if runs else None
        if last and (last.block_def, last.variant, last.args) == (b.block_def, b.variant, b.args):
            runs[-1] = replace(last, blocks=last.blocks + (b.name,))
        else:
            runs.append(Run(b.block_def, b.variant, b.args, (b.name,)))
    return tuple(runs)


def channels(d: BlockDef, in_channels, variant: str = "") -> dict[str, object]:
    """Each node's output channel count as an expression of the definition's
    parameters (`in_channels` for x): what a layer reading it takes as its input
    width. The main path's nodes and those of shortcut `variant` ("" for none):
    variants name their layers alike (`downsample.0` is a conv in one and a
    channel pad in another), so each is read on its own."""
    from .ops import OPS
    out = {INPUT: in_channels, SHORTCUT: None}
    for n in d.nodes + d.variants.get(variant, []):
        ins = [out.get(u) for u in n.inputs]
        out[n.local] = OPS[n.op].channels(n.attrs, ins) if n.op in OPS else ins[0]  # a backend refuses unknown ops
    return out
