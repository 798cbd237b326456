"""Activation memory per image for training, from the ops' memory rules
(ir/footprint.py), in two definitions:

- `saved_bytes`: the tensors PyTorch's autograd keeps from the forward pass for
  the backward pass (what `torch.autograd.graph.saved_tensors_hooks` sees),
  each tensor once however many ops keep it (a ReLU's output is kept by the
  ReLU and by the convs that read it), views counted as the storage they
  share, plus the extra tensors some ops keep (max-pool's int64 indices,
  dropout's mask). Weights and per-channel batch statistics are left out:
  they do not grow with the batch. The network's input is in: the first conv
  keeps it. This is the memory that grows with the batch size.
- `torchinfo_bytes`: torchinfo's "Forward/backward pass size": twice (output
  and its gradient) the output of every layer with parameters (convs, norms,
  dense layers); layers without parameters (activations, pools, additions) are
  not counted, and a tensor two layers keep is counted for each.

Both are bytes at `element_bytes` per value (4: float32). The IR's shapes
exclude the batch, so both are per image.
"""
from __future__ import annotations

import math

from ..ir import OPS, Resolved
from ..ir.footprint import rule


def saved_bytes(r: Resolved, element_bytes: int = 4) -> dict[str, int]:
    """Bytes autograd keeps per image, by the node that made each tensor (its
    output; an op's extra tensors are its own)."""
    g = r.graph
    storage: dict[str, str] = {}  # node -> the node whose output's storage it shares
    kept: set[str] = set()
    out = dict.fromkeys(g.nodes, 0)
    for n, d in g.nodes(data=True):
        m = rule(OPS[d["op"]].memory, d["attrs"])
        preds = list(g.predecessors(n))
        storage[n] = storage[preds[0]] if m.view and preds else n
        if m.inputs:
            kept.update(storage[p] for p in preds)
        if m.output:
            kept.add(storage[n])
        out[n] += m.extra * math.prod(d["shape"])
    for n in kept:
        out[n] += element_bytes * math.prod(g.nodes[n]["shape"])
    return out


def torchinfo_bytes(r: Resolved, element_bytes: int = 4) -> int:
    """torchinfo's "Forward/backward pass size" per image, in bytes."""
    return sum(2 * element_bytes * math.prod(d["shape"]) for _, d in r.graph.nodes(data=True) if d["params"] > 0)
