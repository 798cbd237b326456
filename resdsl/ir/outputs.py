"""The network's outputs: the spec's `outputs:` names mapped to graph nodes.

A name is a stage (its last block's output), a block (`layer2.1`) or any layer
(`conv1`, `layer2.1.conv2`, `fc`). Without `outputs:` the network has one
output, its last node, as before the key existed. Whether every layer feeds an
output is checked later, by the `check_outputs` pass.
"""
from __future__ import annotations

import networkx as nx

from ..errors import did_you_mean
from ..spec.load import LoadedSpec
from .graph import BlockInfo, StageInfo


def output_nodes(spec: LoadedSpec, g: nx.DiGraph, last: str, blocks: list[BlockInfo],
                 stages: list[StageInfo]) -> tuple[list[str], list[str]]:
    """(graph nodes, the names the spec gave them), in the spec's order."""
    names = spec.model.outputs
    if names is None:
        return [last], [last]
    block_out = {b.name: b.output for b in blocks}
    scopes = {st.name: block_out[st.blocks[-1]] for st in stages if st.blocks}
    scopes.update(block_out)
    nodes: list[str] = []
    for i, name in enumerate(names):
        node = scopes.get(name)
        if node is None and name in g and g.nodes[name]["op"] != "input":
            node = name
        if node is None:
            raise spec.error(("outputs", i), "unknown-output", f"no stage, block or layer is named '{name}'",
                             _hint(name, [st.name for st in stages], scopes, g))
        if node in nodes:
            first = names[nodes.index(node)]
            same = f"'{name}' is listed twice" if first == name else f"'{name}' is the same tensor as '{first}'"
            raise spec.error(("outputs", i), "duplicate-output", f"{same} in outputs",
                             "list each output once")
        nodes.append(node)
    return nodes, list(names)


def _hint(name: str, stage_names: list[str], scopes: dict, g: nx.DiGraph) -> str:
    if name == "input":
        return "the input is not an output; name stages, blocks or layers"
    layers = [n for n, op in g.nodes(data="op") if op != "input"]
    close = did_you_mean(name, list(scopes) + layers)
    if close:
        return close
    stages = f"a stage ({', '.join(repr(s) for s in stage_names[:4])}), a block (`{stage_names[0]}.0`) or " \
        if stage_names else ""
    return f"name {stages}a layer (such as '{layers[-1]}')"
