"""Counts and summaries computed from the IR alone — no framework needed."""
from __future__ import annotations

from dataclasses import dataclass

from .ir import Resolved, fmt

LEVELS = ("stage", "block", "layer")


@dataclass
class Row:
    name: str
    op: str
    shape: tuple
    params: int
    buffers: int
    macs: int


def rows(r: Resolved, level: str = "layer") -> list[Row]:
    """One row per layer, per block, or per stage (stem and head layers stay rows)."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}, got '{level}'")
    out: list[Row] = []
    index: dict[str, Row] = {}
    for n, d in r.graph.nodes(data=True):
        group = {"layer": None, "block": d.get("block"), "stage": d.get("stage")}[level]
        if group is None:
            out.append(Row(n, d["op"], d["shape"], d["params"], d["buffers"], d["macs"]))
            continue
        row = index.get(group)
        if row is None:
            kind = next((b.kind for b in r.blocks if b.name == group), None) if level == "block" else \
                next((f"{s.block} ×{s.repeat}" for s in r.stages if s.name == group), "")
            row = index[group] = Row(group, kind or "", d["shape"], 0, 0, 0)
            out.append(row)
        row.shape = d["shape"]
        row.params += d["params"]
        row.buffers += d["buffers"]
        row.macs += d["macs"]
    return out


def one_line(r: Resolved) -> str:
    # Both conventions, labelled: PyTorch (torchinfo's "Total params") counts parameters
    # only; Keras' count_params() adds the BatchNorm moving statistics.
    params, buffers = r.params, r.buffers  # each a sum over every node
    return (f"{r.name}: ok  params {params:,} trainable (PyTorch's total) + {buffers:,} non-trainable "
            f"= {params + buffers:,} (Keras' total)  "
            f"MACs {r.macs:,}  input {fmt(r.input_shape)} -> output {fmt(r.output_shape)}")


def summary_table(r: Resolved, level: str = "layer") -> str:
    table = rows(r, level)
    head = ("Name", "Op", "Output shape (C×H×W)", "Params", "MACs")
    cells = [(x.name, x.op, fmt(x.shape), f"{x.params:,}", f"{x.macs:,}") for x in table]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(head)]
    line = "─" * (sum(widths) + 2 * (len(widths) - 1))

    def fmt_row(c):
        return "  ".join(v.ljust(w) if i < 3 else v.rjust(w) for i, (v, w) in enumerate(zip(c, widths)))
    body = [f'Model: "{r.name}"', line, fmt_row(head), line, *(fmt_row(c) for c in cells), line,
            f"Total params: {r.params + r.buffers:,}  (Keras' count_params: weights and BatchNorm statistics)",
            f"Trainable params: {r.params:,}  (PyTorch's total, as torchinfo reports it)",
            f"Non-trainable params: {r.buffers:,}  (BatchNorm moving statistics; buffers in PyTorch)",
            f"MACs: {r.macs:,}", line]
    return "\n".join(body)
