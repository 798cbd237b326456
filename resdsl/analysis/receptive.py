"""The receptive field of every node, from the ops' windows (ir/footprint.py).

For each axis, a node's field is its `size` (how many input rows or columns
one output value depends on, through the windows of the ops before it) and its
`jump` (how many input pixels lie between two neighbouring output values: the
product of the strides). An op with window k (dilation folded in) and stride s
takes (size, jump) to (size + (k - 1) * jump, jump * s) (Araujo et al. 2019,
"Computing receptive fields of convolutional neural networks"). Where paths
meet (an addition, a gate), the widest field wins. `whole` marks a value that
also depends on every input pixel: after a global pool, a flatten, or a gate
computed from one (squeeze-and-excitation, ECA), whatever its windowed size.

This is the theoretical field: it may exceed the input (ResNet-50's is 427 at
224×224), and padding shifts it without changing its size.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..ir import OPS, Resolved
from ..ir.footprint import GLOBAL, rule


@dataclass(frozen=True)
class Field:
    size: tuple[int, int]   # (rows, columns) of input pixels
    jump: tuple[int, int]   # input pixels between neighbouring outputs, per axis
    whole: bool = False     # also reads the whole input (a global op before it)

    def text(self, vector: bool = False) -> str:
        """'35 /8', '7×9 /2×4', '35 /8 +global' (a gate that sees everything); 'global' for a vector."""
        if vector:
            return "global"
        size = str(self.size[0]) if self.size[0] == self.size[1] else f"{self.size[0]}×{self.size[1]}"
        jump = str(self.jump[0]) if self.jump[0] == self.jump[1] else f"{self.jump[0]}×{self.jump[1]}"
        return f"{size} /{jump}" + (" +global" if self.whole else "")

    def record(self) -> dict:
        return {"size": list(self.size), "jump": list(self.jump), "global": self.whole}


PIXEL = Field((1, 1), (1, 1))


def fields(r: Resolved) -> dict[str, Field]:
    """Every node's receptive field, in build order (a topological order)."""
    g = r.graph
    out: dict[str, Field] = {}
    for n, d in g.nodes(data=True):
        ins = [out[p] for p in g.predecessors(n)]
        if not ins:
            out[n] = PIXEL
            continue
        size = tuple(max(f.size[i] for f in ins) for i in (0, 1))
        jump = tuple(max(f.jump[i] for f in ins) for i in (0, 1))
        whole = any(f.whole for f in ins)
        window = rule(OPS[d["op"]].window, d["attrs"])
        if window == GLOBAL:
            whole = True
        elif window is not None:
            kh, kw, sh, sw = window
            size = (size[0] + (kh - 1) * jump[0], size[1] + (kw - 1) * jump[1])
            jump = (jump[0] * sh, jump[1] * sw)
        out[n] = Field(size, jump, whole)
    return out
