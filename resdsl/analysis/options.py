"""What sets a block apart beyond its kind, read from its ops: the short labels
`resdsl summary` shows beside `bottleneck ×3` (`se(r=16)`, `32×4d`,
`avg_down`, `drop-path 0–0.05`).

Read from the IR, not the spec, so a gate or option written in a user block
reads the same as the built-in one, and an op the summary does not know yet
still shows: by its name.
"""
from __future__ import annotations

from ..ir import Resolved

# Ops every residual block is made of, shown through their options only; any other
# op (a new one included) is named in the labels.
_PLAIN = {"conv", "norm", "act", "add", "identity", "multiply", "global_avgpool", "global_maxpool",
          "global_avgmaxpool", "channel_conv", "drop_path", "dropout", "subsample", "channel_pad", "avgpool", "maxpool",
          "zeropad"}
_GLOBAL_POOLS = {"global_avgpool", "global_maxpool", "global_avgmaxpool"}


def _gate_path(g, mul: str) -> list[str] | None:
    """The nodes computing a multiply's gate (its second input), back to the global
    pool that squeezes the map; None where the gate is not computed from one."""
    gate = next((u for u, _, e in g.in_edges(mul, data=True) if e.get("port") == 1), None)
    path = []
    while gate is not None:
        path.append(gate)
        if g.nodes[gate]["op"] in _GLOBAL_POOLS:
            return path
        preds = list(g.predecessors(gate))
        gate = preds[0] if len(preds) == 1 else None
    return None


def _gate_label(g, mul: str, path: list[str]) -> str:
    """se(r=16) for squeeze-excitation (two 1×1 convs), eca(k=5) for ECA's channel conv."""
    ops = [g.nodes[n] for n in reversed(path)]  # from the pool on
    convs = [d for d in ops if d["op"] == "conv"]
    chan = [d for d in ops if d["op"] == "channel_conv"]
    if chan:
        return f"eca(k={chan[0]['attrs']['kernel']})"
    if len(convs) == 2:
        c, w = g.nodes[mul]["shape"][0], convs[0]["attrs"]["filters"]
        return f"se(r={c // w})" if c % w == 0 else f"se({c}→{w})"
    return "gate"


def _groups_label(args: dict, groups: int) -> str:
    """ResNeXt's name for a grouped bottleneck, cardinality × base width ('32×4d',
    the width per group before it doubles stage by stage); 'groups 8' otherwise."""
    if isinstance(args.get("width_per_group"), int) and args.get("groups") == groups:
        return f"{groups}×{args['width_per_group']}d"
    return f"groups {groups}"


def _rate(v: float) -> str:
    return f"{v:.3g}"


def block_options(r: Resolved, block, nodes: list[str]) -> dict[str, list[str]]:
    """Label kind -> labels of a block (its `nodes`), in the order they read:
    attention, groups, width, dilation, norm, activation, new ops, dropout,
    drop-path, shortcut."""
    g = r.graph
    out: dict[str, list[str]] = {}

    def put(kind: str, label: str) -> None:
        labels = out.setdefault(kind, [])
        if label not in labels:
            labels.append(label)

    gates: set[str] = set()
    for n in nodes:
        if g.nodes[n]["op"] == "multiply":
            path = _gate_path(g, n)
            if path is not None:
                gates.update(path)
                put("attention", _gate_label(g, n, path))
    for n in nodes:
        d = g.nodes[n]
        op, a = d["op"], d["attrs"]
        if op == "conv" and n not in gates:
            if a["groups"] > 1:
                put("groups", _groups_label(block.args, a["groups"]))
            dilation = a.get("dilation", 1)
            if max((dilation,) if isinstance(dilation, int) else dilation) > 1:
                put("dilation", f"dilation {dilation if isinstance(dilation, int) else '×'.join(map(str, dilation))}")
        elif op == "norm" and a["type"] != "batchnorm":
            put("norm", a["type"])
        elif op == "act" and n not in gates and a["fn"] not in ("relu", "linear"):
            put("act", a["fn"])
        elif op == "dropout":
            put("dropout", f"dropout {_rate(a['rate'])}")
        elif op == "drop_path":
            put("drop-path", _rate(a["rate"]))
        elif op not in _PLAIN:
            put("ops", op)
    wpg = block.args.get("width_per_group", 64)
    if "groups" not in out and isinstance(wpg, int) and wpg != 64:
        put("width", f"width×{wpg / 64:g}")
    if block.shortcut != "identity":
        put("shortcut", "no shortcut" if block.shortcut == "none" else block.shortcut)
    return out


def labels(options: dict[str, list[str]]) -> list[str]:
    """The labels to show, one per kind (drop-path as a range where rates differ)."""
    out = []
    for kind, values in options.items():
        if kind == "drop-path":
            rates = sorted(float(v) for v in values)
            out.append(f"drop-path {values[0]}" if len(rates) == 1 else
                       f"drop-path {_rate(rates[0])}–{_rate(rates[-1])}")
        else:
            out.append("/".join(values))
    return out


def merged(per_block: list[dict[str, list[str]]]) -> dict[str, list[str]]:
    """A stage's options: each kind's labels over its blocks, in first-seen order."""
    out: dict[str, list[str]] = {}
    for options in per_block:
        for kind, values in options.items():
            have = out.setdefault(kind, [])
            have.extend(v for v in values if v not in have)
    return out


def kind_runs(blocks) -> str:
    """'bottleneck ×3', or 'bottle2neck_first ×1 + bottle2neck ×2' where a stage's kinds change."""
    runs: list[list] = []
    for b in blocks:
        if runs and runs[-1][0] == b.kind:
            runs[-1][1] += 1
        else:
            runs.append([b.kind, 1])
    return " + ".join(f"{k} ×{n}" for k, n in runs)
