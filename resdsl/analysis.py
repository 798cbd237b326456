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
                next((s.kinds_text for s in r.stages if s.name == group), "")
            row = index[group] = Row(group, kind or "", d["shape"], 0, 0, 0)
            out.append(row)
        row.shape = d["shape"]
        row.params += d["params"]
        row.buffers += d["buffers"]
        row.macs += d["macs"]
    return out


def outputs_text(r: Resolved) -> str:
    """'output 1000', or 'outputs layer1 256×56×56, layer2 512×28×28' for several."""
    if len(r.outputs) == 1:
        return f"output {fmt(r.output_shape)}"
    return "outputs " + ", ".join(f"{name} {fmt(shape)}" for name, shape in zip(r.output_names, r.output_shapes))


def one_line(r: Resolved) -> str:
    # Both conventions, labelled: PyTorch (torchinfo's "Total params") counts parameters
    # only; Keras' count_params() adds the BatchNorm moving statistics.
    return (f"{r.name}: ok  params {r.params:,} trainable (PyTorch's total) + {r.buffers:,} non-trainable "
            f"= {r.params + r.buffers:,} (Keras' total)  "
            f"MACs {r.macs:,}  input {fmt(r.input_shape)} -> {outputs_text(r)}")


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
    if r.named_outputs:
        body[-1:-1] = ["Outputs, in the order the model returns them (name, shape, layer):"] + _outputs_rows(r)
    return "\n".join(body)


def _outputs_rows(r: Resolved) -> list[str]:
    cells = [(name, fmt(shape), node) for name, node, shape in zip(r.output_names, r.outputs, r.output_shapes)]
    w0, w1 = (max(len(c[i]) for c in cells) for i in (0, 1))
    return [f"  {name.ljust(w0)}  {shape.ljust(w1)}  {node}".rstrip() for name, shape, node in cells]
