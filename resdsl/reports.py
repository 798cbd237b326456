"""Machine-readable forms of `validate` and `summary` (`--format json`), for
scripts and notebooks. Framework-free: counts come from the IR alone.

Keys name their convention: `trainable_params` are weights a framework trains;
`non_trainable_params` are BatchNorm's running statistics, which Keras counts
as non-trainable weights and PyTorch keeps as buffers (`buffers` repeats them
under PyTorch's name; torch's `num_batches_tracked` counters are not counted).
`outputs` lists what the network returns, in order (the spec's `outputs:`, or
its last layer): the name the spec gave, the layer it is, its shape; and
`output_shape` is the last one's.

`summary` adds, per image, `saved_bytes` (the float32 activations PyTorch's
autograd keeps for the backward pass; resdsl.analysis.memory) and
`torchinfo_forward_backward_bytes` (torchinfo's "Forward/backward pass size"),
and the `receptive_field` of the last feature map; each row has its
`options` (se(r=16), 32×4d, avg_down, ...; block and stage rows), its
`receptive_field` (`size` and `jump` in input pixels per axis, `global` where
it also sees the whole input) and its `saved_bytes`.
"""
from __future__ import annotations

from .analysis import feature_field, rows
from .analysis.memory import torchinfo_bytes
from .ir import Resolved


def counts(r: Resolved) -> dict:
    return {"name": r.name, "trainable_params": r.params, "non_trainable_params": r.buffers,
            "total_params": r.params + r.buffers, "buffers": r.buffers, "macs": r.macs,
            "input_shape": list(r.input_shape), "output_shape": list(r.output_shape),
            "outputs": [{"name": name, "node": node, "shape": list(shape)}
                        for name, node, shape in zip(r.output_names, r.outputs, r.output_shapes)],
            "allows_any_input_size": r.allows_any_input_size()}


def validate_record(spec: str, r: Resolved) -> dict:
    return {"spec": spec, "ok": True, **counts(r)}


def summary_record(r: Resolved, level: str = "layer") -> dict:
    table = rows(r, level)
    last = feature_field(r)
    return {**counts(r), "level": level, "saved_bytes": sum(x.saved for x in table),
            "torchinfo_forward_backward_bytes": torchinfo_bytes(r),
            "receptive_field": {"node": last[0], **last[1].record()} if last else None,
            "rows": [{"name": x.name, "op": x.op, "options": x.options, "output_shape": list(x.shape),
                      "params": x.params, "buffers": x.buffers, "macs": x.macs,
                      "receptive_field": x.rf.record(), "saved_bytes": x.saved} for x in table]}
