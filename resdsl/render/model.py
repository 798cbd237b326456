"""IR -> view graph: what one picture shows, before any Graphviz syntax.

Three levels: `layer` (every IR op), `block` (one node per residual block, runs
of identical blocks folded into one node unless `expand`), `stage` (one node
per stage). Stem and head always show their layers: they are short, and they
are where ImageNet and CIFAR networks differ.

View node ids are IR structural names (`layer2.0.conv1`, `layer2.0`, `layer2`);
a folded run is `layer3.1-5`. Spec names are identifiers, so a `-` never occurs
in them and these synthetic ids cannot collide with a real name.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..ir import Resolved, fmt
from ..ir.graph import BlockInfo
from ..vocab import LEVELS
from .labels import conv_short, counted, human, op_details, op_title, op_tooltip, shortcut_path, stride_of
from .style import SHORTCUTS


@dataclass
class VNode:
    id: str
    kind: str                 # an IR op, or "block" / "stage"
    name: str                 # small grey line: where it sits in the network
    title: str                # bold line: what it is
    lines: list[str]          # attribute lines
    shape: tuple              # output shape, as in the IR
    cluster: str | None       # key into View.clusters
    down: int = 1             # downsampling factor (1: none)
    shortcut_text: str = ""   # blocks/stages: their shortcuts, one line
    params: int = 0
    tooltip: str = ""
    outputs: list[str] = field(default_factory=list)  # "output 2: layer2": outputs of the network it holds


@dataclass
class VEdge:
    src: str
    dst: str
    shape: tuple              # the tensor it carries, as in the IR
    role: str                 # "main" | "shortcut"
    kind: str | None = None   # shortcut kind (a key of style.SHORTCUTS)
    note: str = ""            # shortcut description shown above the shape
    to_adder: bool = False    # ends at the ⊕ cell of a block/stage node


@dataclass
class VCluster:
    key: str
    label: str
    style: str                # "stem" | "head" | "stage" | "block"
    parent: str | None = None


@dataclass
class View:
    level: str
    name: str
    title: list[str]
    nodes: dict[str, VNode] = field(default_factory=dict)
    edges: list[VEdge] = field(default_factory=list)
    clusters: dict[str, VCluster] = field(default_factory=dict)

    @property
    def shortcut_kinds(self) -> list[str]:
        return sorted({e.kind for e in self.edges if e.kind}, key=list(SHORTCUTS).index)

    @property
    def downsamples(self) -> bool:
        return any(n.down > 1 for n in self.nodes.values())


def count_nodes(r: Resolved, level: str, expand: bool = False) -> int:
    """How many nodes the view would have, without building it (for --max-nodes)."""
    top = sum(1 for _, s in r.graph.nodes(data="section") if s != "stage")
    if level == "layer":
        return len(r.graph)
    if level == "stage":
        return top + len(r.stages)
    return top + sum(len(_runs(st, expand)) for st in r.stages)


def build_view(r: Resolved, level: str, expand: bool = False) -> View:
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}, got '{level}'")
    view = View(level, r.name, _title(r, level))
    g = r.graph
    owner: dict[str, str] = {}
    groups: dict[str, list[BlockInfo]] = {}
    for section in ("stem", "head"):
        view.clusters[section] = VCluster(f"cluster-{section}", section, section)
    binfo = {b.name: b for b in r.blocks}
    for st in r.stages:
        blocks = [binfo[n] for n in st.blocks]
        if level == "stage":
            groups[st.name] = blocks
        elif level == "block":
            for run in _runs(st, expand):
                groups[_run_id(run)] = [binfo[n] for n in run]
        if level != "stage":  # at stage level the stage node says it all
            view.clusters[st.name] = VCluster(f"cluster-{st.name}", _stage_label(r, st), "stage")
    if level == "layer":
        for b in r.blocks:
            view.clusters[b.name] = VCluster(f"cluster-{b.name}", f"{b.name} · {b.kind} · {b.shortcut}",
                                             "block", parent=b.stage)
    else:
        for gid, blocks in groups.items():
            names = {b.name for b in blocks}
            for n, blk in g.nodes(data="block"):
                if blk in names:
                    owner[n] = gid
    for n, d in g.nodes(data=True):
        if n in owner:
            if owner[n] not in view.nodes:
                gid = owner[n]
                view.nodes[gid] = _group_node(r, gid, groups[gid], level)
            continue
        owner[n] = n
        view.nodes[n] = _layer_node(n, d, level)
    _edges(r, view, owner, groups, binfo)
    if r.named_outputs:  # pictures of networks with the default single output stay as they were
        for i, (name, n) in enumerate(zip(r.output_names, r.outputs), start=1):
            view.nodes[owner[n]].outputs.append(f"output {i}: {name}" if len(r.outputs) > 1 else f"output: {name}")
    return view


def _title(r: Resolved, level: str) -> list[str]:
    """Name, description, counts, and with several outputs a line listing them."""
    many = len(r.outputs) > 1
    out = f"{len(r.outputs)} outputs" if many else f"output {fmt(r.output_shape)}"
    lines = [r.name, r.description,
             (f"input {fmt(r.input_shape)} → {out} · "
              f"{r.params:,} trainable parameters ({human(r.params)}) · {human(r.macs)}MACs · {level} level")]
    if many:
        lines.append("outputs: " + ", ".join(f"{i}. {name} {fmt(shape)}" for i, (name, shape)
                                              in enumerate(zip(r.output_names, r.output_shapes), start=1)))
    return lines


def _stage_label(r: Resolved, st) -> str:
    down = f" · stride {st.stride}" if st.stride > 1 else ""
    return f"{st.name} · {st.kinds_text}{down}"


def _layer_node(n: str, d: dict, level: str) -> VNode:
    section = d.get("section")
    if section == "stage":
        cluster = d["block"] if level == "layer" else d["stage"]
        name = n[len(d["block"]) + 1:]
    else:
        cluster = section if section in ("stem", "head") else None
        name = n
    return VNode(n, d["op"], name, op_title(d["op"], d["attrs"]), op_details(d["op"], d["attrs"]),
                 d["shape"], cluster, stride_of(d["op"], d["attrs"]), params=d.get("params", 0),
                 tooltip=op_tooltip(n, d))


def _runs(st, expand: bool) -> list[list[str]]:
    """The stage's runs of identical blocks (same definition, arguments and
    shortcut, as the IR groups them), or every block on its own."""
    if expand:
        return [[n] for n in st.blocks]
    return [list(run.blocks) for run in st.runs]


def _run_id(run: list[str]) -> str:
    if len(run) == 1:
        return run[0]
    return f"{run[0]}-{run[-1].rsplit('.', 1)[1]}"


def _group_node(r: Resolved, gid: str, blocks: list[BlockInfo], level: str) -> VNode:
    g = r.graph
    first, last = blocks[0], blocks[-1]
    names = {b.name for b in blocks}
    members = [n for n, blk in g.nodes(data="block") if blk in names]
    convs = [g.nodes[n]["attrs"] for n in members
             if g.nodes[n]["block"] == first.name and g.nodes[n]["op"] == "conv" and g.nodes[n]["role"] == "main"]
    shape_in, shape = g.nodes[first.input]["shape"], g.nodes[last.output]["shape"]
    down = round(shape_in[1] / shape[1]) if len(shape) == 3 and len(shape_in) == 3 and shape[1] < shape_in[1] else 1
    kinds = [b.shortcut for b in blocks if b.shortcut != "none"]
    params = sum(g.nodes[n]["params"] for n in members)
    if level == "stage":
        chain = " → ".join(conv_short(a, with_stride=False) for a in convs)
        st = next(st for st in r.stages if st.name == first.stage)
        mixed = len(st.kinds) > 1  # a stage of several block kinds: the chain is its first block's
        title = st.kinds_text
        lines = [f"first block: [{chain}]" if mixed else f"[{chain}] ×{len(blocks)}"] if chain else []
        name = first.stage
    else:
        chain = " → ".join(conv_short(a) for a in convs)
        title = first.kind if len(blocks) == 1 else f"{first.kind} ×{len(blocks)}"
        lines = [chain] if chain else []
        name = gid if len(blocks) == 1 else f"{first.name} … {last.name}"
    shortcut_text = ("shortcut: " if len(kinds) == 1 else "shortcuts: ") + counted(kinds) if kinds else "no shortcut"
    tooltip = "\n".join([gid, f"blocks: {', '.join(b.name for b in blocks)}", f"output {fmt(shape)}",
                         f"params {params:,}", f"MACs {sum(g.nodes[n]['macs'] for n in members):,}"])
    cluster = None if level == "stage" else first.stage
    return VNode(gid, level, name, title, lines, shape, cluster, down, shortcut_text, params, tooltip)


def _shortcut_path(g, add: str) -> list[str]:
    """The shortcut ops feeding an `add` node's second input, in execution order."""
    src = next(u for u, _, p in g.in_edges(add, data="port") if p == 1)
    path = []
    while g.nodes[src]["role"] == "shortcut" and g.nodes[src].get("block") == g.nodes[add].get("block"):
        path.append(src)
        src = next(iter(g.predecessors(src)))
    return path[::-1]


def _adder(r: Resolved, b: BlockInfo) -> tuple[str, list[str]] | None:
    """A block's `add` node and the shortcut ops that feed it."""
    add = f"{b.name}.add"
    if add not in r.graph or r.graph.nodes[add]["op"] != "add":
        return None
    return add, _shortcut_path(r.graph, add)


def _add_kind(r: Resolved, add: str) -> str:
    """What the addition's shortcut is; lowering says so on every add (nested
    user blocks' too)."""
    kind = r.graph.nodes[add]["attrs"]["shortcut"]
    return kind if kind in SHORTCUTS else "custom"


def _next_add(g, n: str) -> str:
    """The add a shortcut edge into `n` ends at: follow the shortcut path forward."""
    while g.nodes[n]["op"] != "add":
        n = next(v for v in g.successors(n) if g.nodes[v]["role"] == "shortcut" or g.nodes[v]["op"] == "add")
    return n


def _edges(r: Resolved, view: View, owner: dict, groups: dict, binfo: dict) -> None:
    g = r.graph
    seen = set()
    for u, v, e in g.edges(data=True):
        a, b = owner[u], owner[v]
        grouped = b in groups
        if a == b or (grouped and e["role"] == "shortcut") or (a, b, e["role"]) in seen:
            continue
        seen.add((a, b, e["role"]))
        edge = VEdge(a, b, g.nodes[u]["shape"], e["role"])
        if e["role"] == "shortcut":
            edge.kind = _add_kind(r, _next_add(g, v))
            if g.nodes[v]["op"] == "add":
                edge.note = SHORTCUTS[edge.kind].label.split(" (")[0]
        view.edges.append(edge)
    # A block or stage node hides its shortcut; draw the one that enters it from
    # outside (its first block's) as an edge into the node's ⊕ cell.
    for gid, blocks in groups.items():
        first = blocks[0]
        found = _adder(r, first)
        if found is None or first.shortcut == "none":
            continue
        add, path = found
        kind = _kind(first)
        note = SHORTCUTS[kind].label.split(" (")[0]
        if path:
            text = shortcut_path(g, path)
            note = text if text.startswith(note) else f"{note}: {text}"
            if first.input not in g.predecessors(path[0]):
                note += " (from the pre-activation)"  # ResNet V2 projects the normalised input
        if len(blocks) > 1 and view.level == "block":
            note += f" (×{len(blocks)})"
        view.edges.append(VEdge(owner[first.input], gid, g.nodes[add]["in_shapes"][1], "shortcut", kind,
                                note, to_adder=True))


def _kind(b: BlockInfo) -> str:
    return b.shortcut if b.shortcut in SHORTCUTS else "custom"
