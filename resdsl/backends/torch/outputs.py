"""Where the network's outputs live in the emitted modules, and the class
attributes of the timm-style backbone API (`feature_info`, the classifier).

A stage is one nn.Sequential called at once, unless an output lies inside it:
then the network calls it block by block (`self.layer2[1](x)`), and a block
with an output inside (`layer2.1.conv2`) is called through `forward_taps`,
which its class gets and which returns the block's output and those values.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ...ir import Resolved
from .ops import literal_value


@dataclass
class Taps:
    split: set[str] = field(default_factory=set)                 # stages called block by block
    blocks: dict[str, list[str]] = field(default_factory=dict)   # block -> its tapped layers (locals)
    defs: dict[str, list[str]] = field(default_factory=dict)     # definition -> locals any instance taps
    nodes: set[str] = field(default_factory=set)                 # every output node


def find_taps(r: Resolved) -> Taps:
    g, taps = r.graph, Taps(nodes=set(r.outputs))
    binfo = {b.name: b for b in r.blocks}
    stage_out = {st.name: binfo[st.blocks[-1]].output for st in r.stages if st.blocks}
    for n in r.outputs:
        d = g.nodes[n]
        if d["section"] != "stage" or n == stage_out[d["stage"]]:
            continue  # a stem or head layer, or a whole stage's output
        taps.split.add(d["stage"])
        b = binfo[d["block"]]
        if n != b.output:
            local = n[len(b.name) + 1:]
            taps.blocks.setdefault(b.name, []).append(local)
            taps.defs.setdefault(b.block_def, []).append(local)
    for name, locals_ in taps.defs.items():
        order = [n.local for n in r.defs[name].nodes] + [n.local for ns in r.defs[name].variants.values() for n in ns]
        taps.defs[name] = sorted(set(locals_), key=order.index)
    return taps


def backbone_attrs(r: Resolved, classifier: str | None) -> list[str]:
    """The class attributes `Backbone` reads: the classifier's path, what
    `feature_info` lists (each stage's output channels and reduction; with several
    outputs and no head, the outputs, as timm's features_only models), and the
    widths timm and torchvision ask for."""
    g = r.graph
    if len(r.outputs) > 1 and not any(d["section"] == "head" for _, d in g.nodes(data=True)):
        info = list(zip(r.output_names, r.output_shapes))
    else:
        last = {}
        for n in r.order():
            if g.nodes[n]["section"] == "stage":
                last[g.nodes[n]["stage"]] = n
        info = [(stage, g.nodes[n]["shape"]) for stage, n in last.items()]
    lines = [f"CLASSIFIER = {literal_value(classifier)}", "FEATURE_INFO = ("]
    lines += [f'    {{"module": {literal_value(name)}, "num_chs": {shape[0]}, '
              f'"reduction": {r.input_shape[1] // shape[1]}}},' for name, shape in info if len(shape) == 3]
    lines += [")"]
    feats = [g.nodes[n]["shape"] for n in r.order() if g.nodes[n]["section"] != "head"][-1]
    dense = [n for n in r.order() if g.nodes[n]["op"] == "dense"]
    lines += [f"inplanes = num_features = {feats[0]}"]
    if dense:
        lines += [f"num_classes = {g.nodes[dense[-1]]['shape'][0]}"]
    return lines
