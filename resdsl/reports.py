"""Machine-readable forms of `validate` and `summary` (`--format json`), for
scripts and notebooks. Framework-free: counts come from the IR alone.

Keys name their convention: `trainable_params` are weights a framework trains;
`non_trainable_params` are BatchNorm's running statistics, which Keras counts
as non-trainable weights and PyTorch keeps as buffers (`buffers` repeats them
under PyTorch's name; torch's `num_batches_tracked` counters are not counted).
`outputs` lists what the network returns, in order (the spec's `outputs:`, or
its last layer): the name the spec gave, the layer it is, its shape; and
`output_shape` is the last one's.
"""
from __future__ import annotations

from .analysis import rows
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
    return {**counts(r), "level": level,
            "rows": [{"name": x.name, "op": x.op, "output_shape": list(x.shape), "params": x.params,
                      "buffers": x.buffers, "macs": x.macs} for x in rows(r, level)]}
