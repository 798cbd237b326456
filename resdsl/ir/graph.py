"""The IR container and the builder that lowering functions write through.

The graph is a networkx DiGraph keyed by structural name (`layer2.0.conv1`).
Each node holds: op, attrs, section ('input'|'stem'|'stage'|'head'), stage,
block, local (name inside its block), role ('main'|'shortcut'|'after'), span;
the passes add shape, params, buffers and macs. Edges into an `add` carry
`port` (0 main path, 1 shortcut) and `role`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx

from ..errors import Span, SpecError
from .ops import Shape


@dataclass(frozen=True)
class BlockInfo:
    name: str             # "layer2.0"
    stage: str            # "layer2"
    index: int            # position in the stage
    kind: str             # "bottleneck", or a user block's name
    args: dict            # resolved arguments: in_channels, filters, stride, ...
    shortcut: str         # what was built: identity|projection|subsample|zeropad|none|custom
    input: str            # node feeding the block
    output: str           # the block's last node
    span: Span


@dataclass(frozen=True)
class StageInfo:
    name: str
    block: str
    repeat: int
    stride: int
    blocks: tuple[str, ...]
    span: Span


@dataclass
class Resolved:
    """The result of `resdsl.resolve`: the annotated graph and its totals."""

    graph: nx.DiGraph
    name: str
    description: str
    input_shape: Shape
    output: str
    blocks: list[BlockInfo]
    stages: list[StageInfo]
    spec: object = None  # the LoadedSpec it came from

    @property
    def output_shape(self) -> Shape:
        return self.graph.nodes[self.output]["shape"]

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
        average pool with padding or ceil_mode (its Keras layer precomputes its
        window counts from the input size)."""
        def fixes_size(d):
            a = d.get("attrs") or {}
            return d["op"] == "flatten" or (d["op"] == "avgpool" and (any(a.get("padding", ())) or a.get("ceil_mode")))
        return not any(fixes_size(d) for _, d in self.graph.nodes(data=True))

    def order(self) -> list[str]:
        """Nodes in build order (a topological order; insertion order is one)."""
        return list(self.graph.nodes)

    def node(self, name: str) -> dict:
        return self.graph.nodes[name]


@dataclass
class Builder:
    """Appends nodes in execution order; used by stem, stage and head lowering."""

    graph: nx.DiGraph
    source_text: str | None = None
    max_nodes: int = 500_000
    scope: dict = field(default_factory=dict)  # section, stage, block, role, prefix
    groups: set = field(default_factory=set)   # every dotted prefix of a node name

    def add(self, op: str, local: str, attrs: dict, inputs: list[str], span: Span,
            role: str | None = None) -> str:
        prefix = self.scope.get("prefix", "")
        name = f"{prefix}{local}"
        if name in self.graph:
            raise SpecError.at(span, "duplicate-name", f"two layers are named '{name}'",
                               "give each layer a unique `name`", self.source_text)
        self._check_group_clash(name, span)
        if len(self.graph) >= self.max_nodes:
            raise SpecError.at(span, "too-large",
                               f"the network has more than {self.max_nodes} ops",
                               "raise the limit with --limit max_graph_nodes=N", self.source_text)
        role = role or self.scope.get("role", "main")
        parts = name.split(".")
        self.groups.update(".".join(parts[:i]) for i in range(1, len(parts)))
        self.graph.add_node(name, op=op, attrs=attrs, local=local, span=span, role=role,
                            section=self.scope.get("section"), stage=self.scope.get("stage"),
                            block=self.scope.get("block"))
        for port, src in enumerate(inputs):
            on_shortcut = role == "shortcut" or (op == "add" and port == 1)
            self.graph.add_edge(src, name, port=port, role="shortcut" if on_shortcut else "main")
        return name

    def _check_group_clash(self, name: str, span: Span) -> None:
        """A layer may not share its name with a group of layers (a stem layer named
        `layer1` beside stage `layer1`): torch modules and weight names nest by dots,
        so one of the two would silently vanish."""
        parts = name.split(".")
        layer = next((p for p in (".".join(parts[:i]) for i in range(1, len(parts))) if p in self.graph), None)
        if layer is None and name not in self.groups:
            return
        where = self.graph.nodes[layer]["span"] if layer else span
        raise SpecError.at(where, "duplicate-name",
                           f"'{layer or name}' names both a layer and a group of layers"
                           f"{f' (such as {name!r})' if layer else ''}",
                           "give the layer, the stage or the nested block another `name`", self.source_text)
