"""What every backend needs from the IR, computed once and framework-free:

- `unsupported`: the error for an op a backend cannot express;
- `block_kinds`: groups block instances by structure, so emitted source has one
  class/function per distinct block kind and its size does not grow with depth;
- `stage_runs`: each stage as runs of identical block arguments, so stages are
  emitted as loops over data.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import SpecError
from ..ir import Resolved

# Attributes that never become constructor arguments of a block kind.
_FIXED = {"init", "padding_mode", "_op", "type"}


def unsupported(backend: str, resolved: Resolved, node: str, why: str = "") -> SpecError:
    d = resolved.graph.nodes[node]
    text = resolved.spec.source.text if resolved.spec is not None else None
    msg = f"the {backend} backend cannot express op '{d['op']}' (layer '{node}')"
    return SpecError.at(d["span"], "unsupported-op", msg + (f": {why}" if why else ""), None, text)


def check_block_names(backend: str, resolved: Resolved) -> None:
    """A layer inside a block named 'x' would be the block input in emitted code."""
    for d in resolved.defs.values():
        if d.x_layer is not None:
            text = resolved.spec.source.text if resolved.spec is not None else None
            raise SpecError.at(resolved.graph.nodes[d.x_layer]["span"], "reserved-name",
                               f"layer '{d.x_layer}': the {backend} backend cannot have a layer inside a block named "
                               "'x' (the generated code's name for the block input)", "give the layer another `name`",
                               text)


def node_inputs(resolved: Resolved, node: str) -> list[str]:
    g = resolved.graph
    return [u for u, _, _ in sorted(g.in_edges(node, data="port"), key=lambda e: e[2])]


def block_nodes(resolved: Resolved, block: str) -> list[str]:
    return [n for n, d in resolved.graph.nodes(data=True) if d.get("block") == block]


@dataclass
class BlockKindInfo:
    """One distinct block structure. `params` name the attributes that differ
    between its instances; `values[i]` holds them for instance i."""

    class_name: str
    kind: str
    shortcut: str                        # as built in the first instance
    locals: list[str]                    # node local names, in execution order
    ops: dict[str, str]                  # local -> op
    inputs: dict[str, list[str]]         # local -> input locals ("x" is the block input)
    attrs: dict[str, dict]               # local -> attrs of the first instance
    params: dict[tuple[str, str], str]   # (local, attr) -> parameter name
    instances: list[str] = field(default_factory=list)
    values: list[dict] = field(default_factory=list)  # per instance: parameter -> value

    def attr(self, local: str, key: str, values: dict | None = None):
        """An attribute, looked up in an instance's values if it is a parameter."""
        p = self.params.get((local, key))
        if p is not None and values is not None:
            return values[p]
        return self.attrs[local][key]


def _camel(s: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in s.replace(".", "_").split("_") if part)


def block_kinds(resolved: Resolved) -> tuple[list[BlockKindInfo], dict[str, BlockKindInfo]]:
    """Group blocks by (kind, structure); returns the kinds and block name -> kind."""
    g = resolved.graph
    by_sig: dict[tuple, BlockKindInfo] = {}
    of_block: dict[str, BlockKindInfo] = {}
    members: dict[str, list[str]] = {}
    for b in resolved.blocks:
        members.setdefault(b.name, [])
    for n, d in g.nodes(data=True):
        if d.get("block") in members:
            members[d["block"]].append(n)
    for b in resolved.blocks:
        nodes = members[b.name]
        loc = {n: g.nodes[n]["local"] for n in nodes}
        clash = next((n for n in nodes if loc[n] == "x"), None)
        if clash is not None:  # "x" stands for the block's input below and in both emitters
            text = resolved.spec.source.text if resolved.spec is not None else None
            raise SpecError.at(g.nodes[clash]["span"], "reserved-name",
                               f"layer '{clash}': a layer inside a block cannot be named 'x' (the generated "
                               "code's name for the block input)", "give the layer another `name`", text)
        loc[b.input] = "x"
        # A nested user block's nodes carry dotted locals; keep them relative to this block.
        loc.update({n: n[len(b.name) + 1:] for n in nodes})
        sig = (b.kind, tuple((loc[n], g.nodes[n]["op"], tuple(loc.get(u, "x") for u in node_inputs(resolved, n)),
                              tuple(sorted(k for k in g.nodes[n]["attrs"] if k in _FIXED)),
                              tuple((k, v) for k, v in sorted(g.nodes[n]["attrs"].items()) if k in _FIXED))
                             for n in nodes))
        info = by_sig.get(sig)
        if info is None:
            first = {loc[n]: _attrs(g.nodes[n]) for n in nodes}
            info = BlockKindInfo("", b.kind, b.shortcut, [loc[n] for n in nodes],
                                 {loc[n]: g.nodes[n]["op"] for n in nodes},
                                 {loc[n]: [loc.get(u, "x") for u in node_inputs(resolved, n)] for n in nodes},
                                 first, {})
            by_sig[sig] = info
        info.instances.append(b.name)
        of_block[b.name] = info
    kinds = list(by_sig.values())
    for info in kinds:
        _find_params(resolved, info, members)
    _name_classes(kinds)
    return kinds, of_block


def _find_params(resolved: Resolved, info: BlockKindInfo, members: dict[str, list[str]]) -> None:
    g = resolved.graph
    blocks = {b.name: b for b in resolved.blocks}
    per_instance = []
    for name in info.instances:
        vals = {}
        for n in members[name]:
            local = n[len(name) + 1:]
            for k, v in _attrs(g.nodes[n]).items():
                if k not in _FIXED:
                    vals[(local, k)] = v
        per_instance.append(vals)
    varying = [key for key in per_instance[0] if any(p[key] != per_instance[0][key] for p in per_instance)]
    # Name each varying attribute after a block argument that equals it in every
    # instance (conv2.stride -> `stride`), so the emitted signature reads naturally.
    args = [blocks[name].args for name in info.instances]
    used: set[str] = set()
    for key in varying:
        local, attr = key
        match = next((a for a in args[0] if all(_scalar(p[key]) == args[i].get(a) for i, p in enumerate(per_instance))),
                     None)
        pname = match or f"{local.replace('.', '_')}_{attr}"
        info.params[key] = pname
        used.add(pname)
    for i, p in enumerate(per_instance):
        info.values.append({info.params[key]: (_scalar(p[key]) if info.params[key] in args[i] else p[key])
                            for key in varying})


def _attrs(d: dict) -> dict:
    """A node's attributes plus `in_channels` for the ops whose weights depend on it."""
    attrs = dict(d["attrs"])
    if d["op"] in ("conv", "norm", "dense"):
        attrs["in_channels"] = d["in_shapes"][0][0]
    return attrs


def _scalar(v):
    """(2, 2) -> 2, so tuple attributes can match a block's scalar arguments."""
    if isinstance(v, tuple) and v and all(x == v[0] for x in v):
        return v[0]
    return v


def _name_classes(kinds: list[BlockKindInfo]) -> None:
    """Bottleneck, BottleneckProjection, BasicZeropad, ...; numbered only if still ambiguous."""
    for info in kinds:
        suffix = "" if info.shortcut in ("identity", "none") else _camel(info.shortcut)
        info.class_name = _camel(info.kind) + suffix
    counts: dict[str, int] = {}
    for info in kinds:
        counts[info.class_name] = counts.get(info.class_name, 0) + 1
    seen: dict[str, int] = {}
    for info in kinds:
        if counts[info.class_name] > 1:
            seen[info.class_name] = seen.get(info.class_name, 0) + 1
            info.class_name = f"{info.class_name}{seen[info.class_name]}"


@dataclass
class Run:
    kind: BlockKindInfo
    values: dict
    count: int
    first_index: int


def stage_runs(resolved: Resolved, of_block: dict[str, BlockKindInfo]) -> dict[str, list[Run]]:
    """Each stage as runs of consecutive blocks with the same kind and arguments."""
    out: dict[str, list[Run]] = {}
    for st in resolved.stages:
        runs: list[Run] = []
        for i, bname in enumerate(st.blocks):
            kind = of_block[bname]
            values = kind.values[kind.instances.index(bname)]
            if runs and runs[-1].kind is kind and runs[-1].values == values:
                runs[-1].count += 1
            else:
                runs.append(Run(kind, values, 1, i))
        out[st.name] = runs
    return out


def fingerprint(resolved: Resolved) -> str:
    """A short hash of the network's structure (names, ops, shapes), stamped on
    every built model so `port_weights` can refuse models of different specs."""
    import hashlib
    h = hashlib.sha256()
    for n, d in resolved.graph.nodes(data=True):
        h.update(f"{n}|{d['op']}|{d['shape']}\n".encode())
    return h.hexdigest()[:16]
