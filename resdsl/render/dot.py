"""View graph -> DOT source, through the `graphviz` Python package.

Nodes carry HTML-like labels (small grey name, bold op, attributes, a red
"↓ /2" where the feature map shrinks, the output shape). Block and stage nodes
have a ⊕ cell on the right: their shortcut edge ends there, which is where the
addition happens. Every node and edge gets an SVG `id` (structural names) and a
`class`, so tests and stylesheets can find them.
"""
from __future__ import annotations

from html import escape

from ..ir import fmt
from .labels import MAX_ATTR_BYTES, clip, elide
from .model import VEdge, View, VNode
from .style import (
    BLOCK_FILL,
    CLUSTER,
    DOWN,
    FILL,
    FONT,
    MAIN_EDGE,
    NAME_TEXT,
    OUTPUT,
    SHAPE_TEXT,
    SHORTCUTS,
    STAGE_FILL,
)

ADDER = "adder"          # the port name of the ⊕ cell
LEGEND = "resdsl-legend"  # a '-' keeps it apart from every structural name


# Bytes one cell's text may take once escaped; a label whose cells together
# would pass MAX_ATTR_BYTES is built again with less (see _fitted).
_CELL_BYTES = (2_000, 500, 100)
_cell = _CELL_BYTES[0]


def _font(text: str, size: int | None = None, color: str | None = None, bold: bool = False) -> str:
    s = escape(text)
    if len(s.encode()) > _cell:  # an entity may be 6 bytes for one character
        s = escape(clip(text, _cell // 6))
    if bold:
        s = f"<b>{s}</b>"
    attrs = (f' point-size="{size}"' if size else "") + (f' color="{color}"' if color else "")
    return f"<font{attrs}>{s}</font>" if attrs else s


def _rows(cells: list[str]) -> str:
    return "".join(f"<tr><td>{c}</td></tr>" for c in cells)


def _fitted(make):
    """make() with cells as long as the label's total allows."""
    global _cell
    try:
        for _cell in _CELL_BYTES:
            label = make()
            if len(label.encode()) <= MAX_ATTR_BYTES:
                break
        return label
    finally:
        _cell = _CELL_BYTES[0]


def _plain(text: str) -> str:
    """A quoted attribute within the limit, counting the backslash each quote gets."""
    while len(text.encode()) + text.count('"') + text.count("\\") > MAX_ATTR_BYTES:
        text = clip(text, len(text.encode()) * 3 // 4)
    return text


def node_label(n: VNode) -> str:
    return _fitted(lambda: _node_label(n))


def _node_label(n: VNode) -> str:
    cells = [] if n.title.endswith(n.name) else [_font(n.name, 8, NAME_TEXT)]
    cells.append(_font(n.title, 11 if n.kind in ("block", "stage") else 10, bold=True))
    cells += [_font(line, 9) for line in n.lines]
    if n.down > 1:
        cells.append(_font(f"↓ /{n.down} (downsamples)", 9, DOWN))
    if n.shortcut_text:
        cells.append(_font(n.shortcut_text, 9, NAME_TEXT))
    shape = fmt(n.shape) + (f" · {_params(n.params)}" if n.kind in ("block", "stage") and n.params else "")
    cells.append(_font(shape, 9, SHAPE_TEXT))
    cells += [_font(f"▶ {text}", 9, OUTPUT, bold=True) for text in elide(n.outputs)]
    inner = f'<table border="0" cellborder="0" cellspacing="0" cellpadding="1">{_rows(cells)}</table>'
    if n.kind not in ("block", "stage") or n.shortcut_text == "no shortcut":
        return f"<{inner}>"
    adder = f'<td port="{ADDER}" border="1" sides="l" color="#9db7d5">{_font("⊕", 14)}</td>'
    table = '<table border="0" cellborder="0" cellspacing="0" cellpadding="2">'
    return f"<{table}<tr><td>{inner}</td>{adder}</tr></table>>"


def _params(n: int) -> str:
    from .labels import human
    return f"{human(n)} params"


def _node_attrs(n: VNode) -> dict:
    fill = {"block": BLOCK_FILL, "stage": STAGE_FILL}.get(n.kind, FILL.get(n.kind, "#ffffff"))
    attrs = {"id": n.id, "class": n.kind, "label": node_label(n), "fillcolor": fill, "tooltip": _plain(n.tooltip)}
    if n.down > 1:
        attrs.update(color=DOWN, penwidth="2")
    if n.outputs:  # a double border in its own colour: the network returns this node's value (or one inside it)
        attrs.update({"class": f"{n.kind} output", "color": OUTPUT, "penwidth": "2", "peripheries": "2"})
    return attrs


def _edge_attrs(e: VEdge) -> dict:
    attrs = {"label": _plain((e.note + "\n" if e.note else "") + fmt(e.shape))}
    if e.role == "main":
        attrs.update(id=f"{e.src}->{e.dst}", **{"class": "main"}, color=MAIN_EDGE, fontcolor=SHAPE_TEXT)
    else:
        s = SHORTCUTS[e.kind]
        attrs.update(id=f"{e.src}->{e.dst}#shortcut", **{"class": f"shortcut {e.kind}"}, color=s.color,
                     style=s.style, penwidth=s.penwidth, fontcolor=s.color)
    return attrs


def legend_label(view: View) -> str:
    rows = [("main path (edge label: tensor shape C×H×W)", MAIN_EDGE, "solid", 1)]
    rows += [(f"shortcut: {SHORTCUTS[k].label}", SHORTCUTS[k].color,
              "solid" if SHORTCUTS[k].style == "bold" else SHORTCUTS[k].style,
              2 if float(SHORTCUTS[k].penwidth) >= 2 else 1) for k in view.shortcut_kinds]
    cells = []
    for text, color, style, width in rows:
        cells.append(f'<tr><td width="34" height="8" sides="b" border="{width}" color="{color}" style="{style}"></td>'
                     f'<td align="left">{_font(text, 9)}</td></tr>')
    if view.downsamples:
        cells.append(f'<tr><td>{_font("↓", 11, DOWN, bold=True)}</td>'
                     f'<td align="left">{_font("red border: the op/block downsamples", 9)}</td></tr>')
    if any(n.outputs for n in view.nodes.values()):
        cells.append(f'<tr><td>{_font("▶", 11, OUTPUT, bold=True)}</td>'
                     f'<td align="left">{_font("double border: an output of the network (or holds one)", 9)}</td></tr>')
    if view.level != "layer" and view.shortcut_kinds:
        cells.append(f'<tr><td>{_font("⊕", 12)}</td>'
                     f'<td align="left">{_font("where a block adds its shortcut", 9)}</td></tr>')
    return (f'<<table border="1" color="#bbbbbb" cellborder="0" cellspacing="2" cellpadding="2">'
            f'<tr><td colspan="2" align="left">{_font("legend", 9, bold=True)}</td></tr>{"".join(cells)}</table>>')


def title_label(view: View) -> str:
    return _fitted(lambda: _title_label(view))


def _title_label(view: View) -> str:
    name, description, counts, *outputs = view.title
    lines = [_font(name, 18, bold=True)]
    if description:  # an HTML label breaks lines only at <br/>
        lines += [_font(part, 10) for part in description.split("\n")]
    lines.append(_font(counts, 10, SHAPE_TEXT))
    lines += [_font(text, 10, OUTPUT) for text in outputs]
    return "<" + "<br/>".join(lines) + ">"


def to_dot(view: View, comment: str):
    import graphviz

    dot = graphviz.Digraph(view.name, comment=comment)
    dot.attr(rankdir="TB", label=title_label(view), labelloc="t", fontname=FONT, nodesep="0.3",
             ranksep="0.3", outputorder="edgesfirst", id="graph-" + view.name)
    dot.attr("node", shape="box", style="rounded,filled", fontname=FONT, margin="0.08,0.03", penwidth="1",
             color="#8a8a8a")
    dot.attr("edge", fontname=FONT, fontsize="8", arrowsize="0.7")
    members: dict[str | None, list[VNode]] = {}
    for n in view.nodes.values():
        members.setdefault(n.cluster, []).append(n)
    children: dict[str | None, list[str]] = {}
    for key, c in view.clusters.items():
        children.setdefault(c.parent, []).append(key)

    def fill(graph, key: str | None) -> None:
        for n in members.get(key, []):
            graph.node(n.id, **_node_attrs(n))
        for child in children.get(key, []):
            if not _has_nodes(child, members, children):
                continue
            c = view.clusters[child]
            with graph.subgraph(name=c.key) as sub:
                sub.attr(label=_plain(c.label), id=c.key, fontsize="10", fontname=FONT, labeljust="l",
                         **CLUSTER[c.style])
                fill(sub, child)

    fill(dot, None)
    with dot.subgraph() as top:  # the legend sits beside the input, out of the way
        top.attr(rank="source")
        top.node(LEGEND, label=legend_label(view), shape="plain", id=LEGEND, style="")
        first = next(iter(view.nodes))
        top.node(first)
    for e in view.edges:
        head = f"{e.dst}:{ADDER}:e" if e.to_adder else e.dst
        dot.edge(e.src, head, **_edge_attrs(e))
    return dot


def _has_nodes(key, members, children) -> bool:
    return bool(members.get(key)) or any(_has_nodes(c, members, children) for c in children.get(key, []))
