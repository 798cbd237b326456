"""Repeated blocks: a stage's built-in block called with the same arguments as
the block before it (595 of cifar_resnet1202's 600 blocks) gets the previous
block's ops again, under its own names, instead of being lowered again.

This is safe because lowering a built-in block (ir/blocks.py) depends on its
call — all of `BlockCall` but the input node — and the stage's defaults, and on
nothing else the builder holds but the names already taken; the copied names
are checked as lowering checks them (`Builder.claim_all`, or node by node with
`Builder.claim` where something might clash), so a clash reads the same. The
copy is the same ops, attributes (the same immutable objects), spans, edges and
block template; tests/core/test_replay.py compares replayed networks with
networks lowered block by block.
"""
from __future__ import annotations

from .blocks import BlockCall
from .graph import Builder, Recording, dotted_prefixes


def same_call(a: BlockCall, b: BlockCall) -> bool:
    """Whether two blocks are called alike, whatever their input node."""
    return {**a.__dict__, "x": None} == {**b.__dict__, "x": None}


class Replay:
    """A lowered block's ops by local name, to add again under another prefix.
    (A plain class: a dataclass would be generated at every start, for one use.)"""

    __slots__ = ("nodes", "groups", "recording", "output", "channels", "kind")

    def __init__(self, nodes: tuple, groups: tuple[str, ...], recording: Recording, output: str, channels: int,
                 kind: str):
        # Each op as (local, node data, inputs); its inputs in port order, as (the source's
        # local, or None for the block's input; edge data).
        self.nodes = nodes
        self.groups = groups        # the groups inside the block ('downsample', 'se'), by local name
        self.recording = recording
        self.output = output        # local of the block's last node
        self.channels = channels    # its output channels
        self.kind = kind            # the shortcut it built

    @classmethod
    def of(cls, b: Builder, rec: Recording, output: str, channels: int, kind: str) -> Replay:
        """The plan of the block `rec` recorded, whose last node is `output`."""
        g, cut = b.graph, len(rec.prefix)
        nodes, groups = [], {}
        for t in rec.nodes:
            name = rec.prefix + t.local
            inputs = tuple((None if u == rec.input else u[cut:], dict(edge)) for u, edge in g.pred[name].items())
            nodes.append((t.local, g.nodes[name], inputs))
            groups.update(dict.fromkeys(dotted_prefixes(t.local)))
        return cls(tuple(nodes), tuple(groups), rec, output[cut:], channels, kind)

    def apply(self, b: Builder, x: str) -> tuple[str, int, str]:
        """Add the ops after node `x` under the builder's prefix and block, and record
        them as the block's template; returns what a block's lowering returns."""
        prefix, block = b.scope["prefix"], b.scope["block"]
        names = [prefix + local for local, _, _ in self.nodes]
        checked = b.claim_all(names, dotted_prefixes(prefix) + [prefix + group for group in self.groups])
        for name, (_, data, inputs) in zip(names, self.nodes):
            if not checked:
                b.claim(name, data["span"])
            b.append(name, {**data, "block": block},
                     [(x if u is None else prefix + u, dict(edge)) for u, edge in inputs])
        # The template as lowering records it (begin_block made the recording: kind,
        # prefix, input); every other field of ir.graph.Recording, copied.
        rec, src = b.recording, self.recording
        rec.params, rec.lets, rec.nodes = dict(src.params), list(src.lets), list(src.nodes)
        rec.optional, rec.shortcut_add, rec.shortcut_kind = set(src.optional), src.shortcut_add, src.shortcut_kind
        return prefix + self.output, self.channels, self.kind
