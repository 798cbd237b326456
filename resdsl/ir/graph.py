"""The IR container and the builder that lowering functions write through.

Two levels, both written by lowering:

- the flat op graph, a networkx DiGraph keyed by structural name
  (`layer2.0.conv1`), which shapes and counts are computed on. Each node holds:
  op, attrs (a typed, frozen `ir.attrs` object), section
  ('input'|'stem'|'stage'|'head'), stage, block, local (name inside its block),
  role ('main'|'shortcut'|'after'), span; the passes add shape, params, buffers
  and macs. Edges into an `add` carry `port` (0 main path, 1 shortcut) and `role`.
- block definitions (`BlockDef`, see ir/templates.py): each distinct block once,
  as a template whose attributes are expressions of named parameters
  (`filters * expansion`), and per block instance its definition and
  arguments (`BlockInfo.block_def`, `.args`); each stage lists its runs of
  identical instances (`StageInfo.runs`). Emitters and the renderer read these
  instead of regrouping the flat graph.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx

from .. import fastpath
from ..errors import Span, SpecError
from .expr import has_symbols, is_symbolic, plain, sym
from .ops import OPS, Shape


@dataclass(frozen=True)
class TemplateNode:
    """One op of a block definition. Attribute values may be symbolic (ir.expr):
    their text is an expression of the definition's parameters."""

    local: str                # name inside the block: "conv1", "downsample.0"
    op: str
    attrs: object             # ir.attrs object, possibly with symbolic values
    inputs: tuple[str, ...]   # locals it reads; INPUT is the block's input, SHORTCUT the shortcut's result
    role: str                 # main | shortcut | after


INPUT = "<input>"  # the block's input in a definition: no layer can be named so
INPUT_NODE = "input"  # the network's input node
SHORTCUT = "<shortcut>"  # the residual addition's second input in a definition: x, or the shortcut's output


@dataclass
class BlockDef:
    """A distinct block: the template an emitter writes as one class/function.

    `variants` are the optional shortcut paths (by shortcut kind): an instance
    uses one of them or none (the identity), chosen by the `downsample`
    parameter, as torchvision's `downsample=None` and keras.applications'
    `conv_shortcut=False`. `params` lists the constructor parameters in order;
    `defaults` holds those that are equal in every instance."""

    name: str                                     # "Bottleneck"
    kind: str                                     # "bottleneck", or a user block's name
    params: list[str]
    defaults: dict
    lets: list[tuple[str, str]]                   # derived values: (name, expression), in order
    nodes: list[TemplateNode]                     # everything but the optional shortcut, in order
    variants: dict[str, list[TemplateNode]]       # shortcut kind -> its nodes
    optional: bool                                # some instances have no shortcut nodes
    output: str                                   # local of the block's last node
    instances: list[str] = field(default_factory=list)

    @property
    def shortcut_param(self) -> str | None:
        """The parameter choosing the shortcut path, if instances differ in it."""
        return "downsample" if self.optional or len(self.variants) > 1 else None


@dataclass(frozen=True)
class BlockInfo:
    name: str             # "layer2.0"
    stage: str            # "layer2"
    index: int            # position in the stage
    kind: str             # "bottleneck", or a user block's name
    args: dict            # its definition's parameters -> values (filters, stride, ...)
    shortcut: str         # what was built: identity|projection|subsample|zeropad|avg_down|none|custom
    input: str            # node feeding the block
    output: str           # the block's last node
    span: Span
    block_def: str = ""   # name of its BlockDef
    variant: str | None = None  # the shortcut variant it uses (None: identity or no shortcut)


@dataclass(frozen=True)
class Run:
    """Consecutive blocks of a stage with the same definition, arguments and shortcut."""

    block_def: str
    variant: str | None
    args: dict
    blocks: tuple[str, ...]


@dataclass(frozen=True)
class StageInfo:
    name: str
    block: str            # its block kind ("a + b" for a stage of several kinds: see `kinds`)
    repeat: int           # how many blocks
    stride: int
    blocks: tuple[str, ...]
    span: Span
    runs: tuple[Run, ...] = ()
    kinds: tuple[tuple[str, int], ...] = ()  # (block kind, how many) as the spec lists them

    @property
    def kinds_text(self) -> str:
        """'bottleneck ×3', or 'bottle2neck_first ×1 + bottle2neck ×2'."""
        kinds = self.kinds or ((self.block, self.repeat),)
        return " + ".join(f"{kind} ×{n}" for kind, n in kinds)


@dataclass
class Resolved:
    """The result of `resdsl.resolve`: the annotated graph and its totals."""

    graph: nx.DiGraph
    name: str
    description: str
    input_shape: Shape
    output: str
    _blocks: list[BlockInfo]
    _stages: list[StageInfo]
    spec: object = None  # the LoadedSpec it came from
    _defs: dict[str, BlockDef] = field(default_factory=dict)  # block definitions by name, in first-use order
    # The tensors the network returns, in the spec's order (`outputs:`): graph nodes, and
    # the names the spec gave them (`layer1` for the node `layer1.2.relu`). Without
    # `outputs:`, the one node `output`; `output` is always the last of them.
    outputs: list[str] = field(default_factory=list)
    output_names: list[str] = field(default_factory=list)
    named_outputs: bool = False  # the spec lists `outputs:`
    # () -> (defs, blocks, stages): the block definitions are assembled on first use,
    # since counting and validating (the everyday `resdsl validate`) never read them.
    _assemble: object = field(default=None, repr=False, compare=False)

    def _assembled(self) -> None:
        if self._assemble is not None:
            self._defs, self._blocks, self._stages = self._assemble()
            self._assemble = None

    @property
    def defs(self) -> dict[str, BlockDef]:
        self._assembled()
        return self._defs

    @property
    def blocks(self) -> list[BlockInfo]:
        """Every block instance, with its definition and constructor arguments."""
        self._assembled()
        return self._blocks

    @property
    def stages(self) -> list[StageInfo]:
        """Every stage, with its runs of identical blocks."""
        self._assembled()
        return self._stages

    def __post_init__(self):
        if not self.outputs:
            self.outputs = [self.output]
        if not self.output_names:
            self.output_names = list(self.outputs)

    @property
    def output_shape(self) -> Shape:
        return self.graph.nodes[self.output]["shape"]

    @property
    def output_shapes(self) -> list[Shape]:
        return [self.graph.nodes[n]["shape"] for n in self.outputs]

    def _total(self, key: str) -> int:
        return sum(d.get(key, 0) for _, d in self.graph.nodes(data=True))

    @property
    def params(self) -> int:
        return self._total("params")

    @property
    def buffers(self) -> int:
        return self._total("buffers")

    @property
    def macs(self) -> int:
        return self._total("macs")

    def allows_any_input_size(self) -> bool:
        """Whether every layer takes any height and width: a fully convolutional
        body with a global pool (or no head). A flatten before a dense layer
        fixes the size, as in keras.applications with include_top=True; so does an
        average pool with padding or ceil_mode, or a max pool with ceil_mode (their
        Keras layers precompute window counts or padding from the input size)."""
        def fixes_size(d):
            a = d.get("attrs") or {}
            pool = d["op"] in ("avgpool", "maxpool")
            return d["op"] == "flatten" or (pool and a.get("ceil_mode")) \
                or (d["op"] == "avgpool" and any(a.get("padding", ())))
        return not any(fixes_size(d) for _, d in self.graph.nodes(data=True))

    def order(self) -> list[str]:
        """Nodes in build order (a topological order; insertion order is one)."""
        return list(self.graph.nodes)

    def node(self, name: str) -> dict:
        return self.graph.nodes[name]


@dataclass
class Recording:
    """What lowering one block instance wrote, as a template (see ir/templates.py)."""

    kind: str
    prefix: str                       # "layer2.0."
    input: str                        # the node feeding the block
    params: dict = field(default_factory=dict)            # name -> value, in declaration order
    lets: list = field(default_factory=list)              # (name, expression text)
    nodes: list[TemplateNode] = field(default_factory=list)
    optional: set = field(default_factory=set)            # locals of the block's own shortcut path
    shortcut_add: str | None = None                       # local of the addition that takes it
    shortcut_kind: str = "none"


@dataclass
class Builder:
    """Appends nodes in execution order; used by stem, stage and head lowering.
    Inside a block (between `begin_block` and `end_block`) it also records the
    block's template."""

    graph: nx.DiGraph
    source_text: str | None = None
    max_nodes: int = 500_000
    scope: dict = field(default_factory=dict)  # section, stage, block, role, prefix
    groups: set = field(default_factory=set)   # every dotted prefix of a node name
    recording: Recording | None = None
    in_shortcut: bool = False                  # adding the block's own (optional) shortcut path
    channels: dict = field(default_factory=dict)  # node -> its channel count, for layers that read it by name
    fast: bool = field(default_factory=lambda: fastpath.enabled())  # append through networkx's dicts (see append)
    # node -> its spatial stride from the input of the user block being lowered (or of the
    # stem or head): the block's stride is its output's, whichever branches lead there.
    strides: dict = field(default_factory=dict)
    pooled: set = field(default_factory=set)  # nodes with no spatial extent left (ir/layers.py POOLED)

    # -- block templates --------------------------------------------------------
    def begin_block(self, kind: str, input_node: str) -> None:
        self.recording = Recording(kind, self.scope.get("prefix", ""), input_node)

    def end_block(self) -> Recording:
        rec, self.recording = self.recording, None
        return rec

    def param(self, name: str, value):
        """Declare a parameter of the block being lowered; returns it as a symbolic
        value (plain where nothing is recorded, or for non-numbers)."""
        if self.recording is None or isinstance(value, (bool, str)) or value is None:
            return value
        self.recording.params.setdefault(name, plain(value))
        return sym(plain(value), name)

    def let(self, name: str, value):
        """A derived value of the block (`width = ...`): later uses read `name`."""
        if self.recording is None or not is_symbolic(value):
            return value
        self.recording.lets.append((name, value.text))
        return sym(plain(value), name)

    def _record(self, name: str, op: str, attrs, inputs: list[str], role: str) -> None:
        rec = self.recording
        local = name[len(rec.prefix):]

        def rel(u: str) -> str:
            if u == rec.input:
                return INPUT
            assert u.startswith(rec.prefix), f"{name} reads {u} from outside its block"
            return u[len(rec.prefix):]
        ins = tuple(rel(u) for u in inputs)
        if self.in_shortcut:
            rec.optional.add(local)
        rec.nodes.append(TemplateNode(local, op, attrs, ins, role))

    def mark_shortcut_add(self, node: str, kind: str) -> None:
        """The block's residual addition, whose second input is its shortcut."""
        if self.recording is not None:
            self.recording.shortcut_add = node[len(self.recording.prefix):]
            self.recording.shortcut_kind = kind

    # -- nodes --------------------------------------------------------------------
    def add(self, op: str, local: str, attrs: dict, inputs: list[str], span: Span,
            role: str | None = None) -> str:
        prefix = self.scope.get("prefix", "")
        name = f"{prefix}{local}"
        self.claim(name, span)
        role = role or self.scope.get("role", "main")
        kind = OPS[op].attrs
        if has_symbols(attrs):
            if self.recording is not None:
                self._record(name, op, kind(**attrs), inputs, role)
            typed = kind(**plain(attrs))
        else:  # one object serves the template and the graph: most norms and activations, all outside blocks
            typed = kind(**attrs)
            if self.recording is not None:
                self._record(name, op, typed, inputs, role)
        scope = self.scope
        self.append(name, {"op": op, "attrs": typed, "local": local, "span": span, "role": role,
                           "section": scope.get("section"), "stage": scope.get("stage"), "block": scope.get("block")},
                    [(src, {"port": port, "role": "shortcut" if role == "shortcut" or (op == "add" and port == 1)
                             else "main"}) for port, src in enumerate(inputs)])
        return name

    def claim(self, name: str, span: Span) -> None:
        """Check that a new node may be called `name`, and take the name."""
        nodes = self.graph
        groups = dotted_prefixes(name)
        if (name == INPUT_NODE and name in nodes) or groups[:1] == [INPUT_NODE]:  # the first node, named first
            raise SpecError.at(span, "reserved-name", f"'{INPUT_NODE}' is the name of the network's input",
                               "give the layer or the stage another `name`", self.source_text)
        if name in nodes:
            raise SpecError.at(span, "duplicate-name", f"two layers are named '{name}'",
                               "give each layer a unique `name`", self.source_text)
        if name in self.groups or any(p in nodes for p in groups):
            self._group_clash(name, span, groups)
        if len(nodes) >= self.max_nodes:
            raise SpecError.at(span, "too-large",
                               f"the network has more than {self.max_nodes} ops",
                               "raise the limit with --limit max_graph_nodes=N", self.source_text)
        self.groups.update(groups)

    def claim_all(self, names: list[str], groups: list[str]) -> bool:
        """Take the names of a copied block at once, and `groups`, all their dotted
        prefixes, where nothing can clash: no name is a layer or a group already, no
        group a layer, and the limit on ops holds for all. The names' clashes among
        themselves were checked when the block they copy was lowered. Returns False,
        taking nothing, where something might clash: each name then goes through
        `claim`, which reports the first clash as lowering would."""
        nodes, taken = self.graph, self.groups
        if len(nodes) + len(names) > self.max_nodes or any(n in nodes or n in taken for n in names) \
                or any(g in nodes for g in groups):
            return False
        taken.update(groups)
        return True

    def append(self, name: str, data: dict, inputs: list[tuple[str, dict]]) -> None:
        """Add the node `name` (new, and claimed) with its data and its in-edges
        (source, edge data), in port order.

        The fast path (resdsl.fastpath) writes into networkx's own dicts, as
        `add_node` and `add_edge` leave them (each edge's data one dict, in both
        `_succ` and `_pred`), taking `data` as the node's dict: the public calls,
        with their keyword dicts, checks and cache clearing, cost more than the
        lowering of deep networks around them (docs/benchmarks.md). The sources
        exist: every input is a node added before."""
        g = self.graph
        if not self.fast:
            g.add_node(name, **data)
            g.add_edges_from((src, name, edge) for src, edge in inputs)
            return
        g._node[name] = data
        g._succ[name] = {}
        pred = g._pred[name] = {}
        for src, edge in inputs:
            g._succ[src][name] = edge
            pred[src] = edge

    def _group_clash(self, name: str, span: Span, groups: list[str]) -> None:
        """A layer may not share its name with a group of layers (a stem layer named
        `layer1` beside stage `layer1`): torch modules and weight names nest by dots,
        so one of the two would silently vanish. `groups`: the name's dotted prefixes."""
        layer = next((p for p in groups if p in self.graph), None)
        where = self.graph.nodes[layer]["span"] if layer else span
        raise SpecError.at(where, "duplicate-name",
                           f"'{layer or name}' names both a layer and a group of layers"
                           f"{f' (such as {name!r})' if layer else ''}",
                           "give the layer, the stage or the nested block another `name`", self.source_text)


def dotted_prefixes(name: str) -> list[str]:
    """'layer2.0.conv1' -> ['layer2', 'layer2.0']: the groups a node's name puts it in."""
    out = []
    i = name.find(".")
    while i != -1:
        out.append(name[:i])
        i = name.find(".", i + 1)
    return out
