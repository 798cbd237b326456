"""Counts and summaries computed from the IR alone — no framework needed.

Beside parameters and MACs, each row of a summary carries its receptive field
(analysis/receptive.py) and the activation memory it adds to training
(analysis/memory.py); block and stage rows name their options
(analysis/options.py): attention, groups, drop-path, shortcut.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..ir import Resolved, fmt
from .memory import saved_bytes, torchinfo_bytes
from .options import block_options, kind_runs, labels, merged
from .receptive import Field, fields

LEVELS = ("stage", "block", "layer")
MB = 1e6  # torchinfo's megabyte


@dataclass
class Row:
    name: str
    op: str
    shape: tuple
    params: int
    buffers: int
    macs: int
    rf: Field | None = None     # the receptive field of the row's output
    saved: int = 0              # bytes per image autograd keeps from the row's ops (analysis/memory.py)
    options: list[str] = field(default_factory=list)  # block and stage rows: se(r=16), 32×4d, avg_down, ...

    @property
    def label(self) -> str:
        """The Op column: 'bottleneck ×3 · se(r=16) · projection'."""
        return " · ".join([self.op, *self.options])


def rows(r: Resolved, level: str = "layer") -> list[Row]:
    """One row per layer, per block, or per stage (stem and head layers stay rows)."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}, got '{level}'")
    rf, saved = fields(r), saved_bytes(r)
    out: list[Row] = []
    index: dict[str, Row] = {}
    for n, d in r.graph.nodes(data=True):
        group = {"layer": None, "block": d.get("block"), "stage": d.get("stage")}[level]
        if group is None:
            out.append(Row(n, d["op"], d["shape"], d["params"], d["buffers"], d["macs"], rf[n], saved[n]))
            continue
        row = index.get(group)
        if row is None:
            row = index[group] = Row(group, "", d["shape"], 0, 0, 0)
            out.append(row)
        row.shape, row.rf = d["shape"], rf[n]
        row.params += d["params"]
        row.buffers += d["buffers"]
        row.macs += d["macs"]
        row.saved += saved[n]
    if level != "layer":
        _name_groups(r, level, index)
    return out


def _name_groups(r: Resolved, level: str, index: dict[str, Row]) -> None:
    """The Op column of block and stage rows: the kind(s) and their options."""
    members: dict[str, list[str]] = {}
    for n, d in r.graph.nodes(data=True):
        if d.get("block") is not None:
            members.setdefault(d["block"], []).append(n)
    per_block = {b.name: (b, block_options(r, b, members.get(b.name, []))) for b in r.blocks}
    if level == "block":
        for name, row in index.items():
            if name in per_block:
                b, options = per_block[name]
                row.op, row.options = b.kind, labels(options)
        return
    for s in r.stages:
        row = index.get(s.name)
        if row is not None:
            blocks = [per_block[b] for b in s.blocks]
            row.op = kind_runs([b for b, _ in blocks])
            row.options = labels(merged([o for _, o in blocks]))


def feature_field(r: Resolved) -> tuple[str, Field] | None:
    """The last feature map (C×H×W) and its receptive field: what the head pools."""
    rf = fields(r)
    last = None
    for n, d in r.graph.nodes(data=True):
        if len(d["shape"]) == 3 and d["op"] != "input":
            last = n
    return (last, rf[last]) if last else None


def field_text(row: Row) -> str:
    return row.rf.text(vector=len(row.shape) != 3) if row.rf else ""


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
    head = ("Name", "Op", "Output shape (C×H×W)", "Params", "MACs", "Receptive field", "Saved (MB)")
    cells = [(x.name, x.label, fmt(x.shape), f"{x.params:,}", f"{x.macs:,}", field_text(x), f"{x.saved / MB:.2f}")
             for x in table]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(head)]
    line = "─" * (sum(widths) + 2 * (len(widths) - 1))

    def fmt_row(c):
        return "  ".join(v.ljust(w) if i < 3 or i == 5 else v.rjust(w)
                         for i, (v, w) in enumerate(zip(c, widths))).rstrip()
    body = [f'Model: "{r.name}"', line, fmt_row(head), line, *(fmt_row(c) for c in cells), line,
            f"Total params: {r.params + r.buffers:,}  (Keras' count_params: weights and BatchNorm statistics)",
            f"Trainable params: {r.params:,}  (PyTorch's total, as torchinfo reports it)",
            f"Non-trainable params: {r.buffers:,}  (BatchNorm moving statistics; buffers in PyTorch)",
            f"MACs: {r.macs:,}", *_footnotes(r, table), line]
    if r.named_outputs:
        body[-1:-1] = ["Outputs, in the order the model returns them (name, shape, layer):"] + _outputs_rows(r)
    return "\n".join(body)


def _outputs_rows(r: Resolved) -> list[str]:
    cells = [(name, fmt(shape), node) for name, node, shape in zip(r.output_names, r.outputs, r.output_shapes)]
    w0, w1 = (max(len(c[i]) for c in cells) for i in (0, 1))
    return [f"  {name.ljust(w0)}  {shape.ljust(w1)}  {node}".rstrip() for name, shape, node in cells]


def _footnotes(r: Resolved, table: list[Row]) -> list[str]:
    saved = sum(x.saved for x in table)
    out = [f"Saved for backward: {saved / MB:.2f} MB per image (float32 activations PyTorch's autograd keeps "
           "in training; the Saved column)",
           f"  torchinfo's \"Forward/backward pass size\": {torchinfo_bytes(r) / MB:.2f} MB "
           "(twice the output of every layer with weights)"]
    last = feature_field(r)
    if last:
        name, f = last
        out.append(f"Receptive field of {name}: {f.text()} (size / jump in input pixels"
                   + ("; +global: a gate sees the whole input)" if f.whole else ")"))
    return out
