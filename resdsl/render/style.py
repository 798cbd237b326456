"""How things look: one table of colours and line styles, so the legend, the
edges and the docs cannot disagree.

Shortcut kinds differ in colour *and* line style *and* label, so a diagram stays
readable in greyscale print and for colour-blind readers.
"""
from __future__ import annotations

from dataclasses import dataclass

FONT = "Helvetica"
MAIN_EDGE = "#333333"
SHAPE_TEXT = "#555555"   # tensor shapes on edges and in nodes
NAME_TEXT = "#777777"    # structural names above the op
DOWN = "#c0392b"         # downsampling: red border and a "↓ /2" line
OUTPUT = "#d35400"       # outputs of the network: a double orange border and "▶ output 1: layer1"


@dataclass(frozen=True)
class EdgeStyle:
    color: str
    style: str
    penwidth: str
    label: str         # what the legend and edge labels call it


# Keyed by BlockInfo.shortcut (what the IR built).
SHORTCUTS: dict[str, EdgeStyle] = {
    "identity": EdgeStyle("#7f7f7f", "dashed", "1.4", "identity"),
    "projection": EdgeStyle("#1f77b4", "solid", "2", "projection (1×1 conv)"),
    "zeropad": EdgeStyle("#2ca02c", "dotted", "2.2", "zero-pad, option A"),
    "subsample": EdgeStyle("#9467bd", "dashed", "2", "subsample (strided identity)"),
    "custom": EdgeStyle("#8c564b", "bold", "1.6", "custom shortcut"),
}

# Node fill by op family; blocks and stages use BLOCK_FILL.
FILL = {
    "input": "#ffffff", "conv": "#dbe9f6", "norm": "#fdf1c7", "act": "#e2f2dc",
    "maxpool": "#ece3f3", "avgpool": "#ece3f3", "global_avgpool": "#ece3f3",
    "zeropad": "#eeeeee", "subsample": "#eeeeee", "channel_pad": "#eeeeee",
    "add": "#ffffff", "flatten": "#eeeeee", "dense": "#fde0c8",
}
BLOCK_FILL = "#eef4fb"
STAGE_FILL = "#e3edf8"

CLUSTER = {
    "stem": {"style": "rounded,filled", "fillcolor": "#f6f6f6", "color": "#bbbbbb"},
    "head": {"style": "rounded,filled", "fillcolor": "#f6f6f6", "color": "#bbbbbb"},
    "stage": {"style": "rounded,filled", "fillcolor": "#fafcff", "color": "#9db7d5"},
    "block": {"style": "rounded,dashed", "color": "#b8c6d6"},
}
