"""`resdsl.port_weights(src, dst)`: copy weights between models of the same
network — PyTorch <-> Keras builds of one spec, and a keras.applications model
into the matching resdsl Keras build (so pretrained weights can be used).

Layers are matched by name (the IR's structural names, the naming contract of
both backends; keras.applications names are translated, see port.names) and
every shape is checked before anything is written, so a mismatch leaves `dst`
untouched and names the first layer that does not fit.

Layout conversions: conv kernels OIHW (torch) <-> HWIO (Keras); dense kernels
transposed; a dense layer fed by a flattened feature map has its input rows
reordered, since torch flattens C,H,W and Keras H,W,C. Batch norm: gamma,
beta, moving mean and variance.

Neither torch nor keras is imported here unless a model of that kind is passed.
"""
from __future__ import annotations

from .names import applications_name
from .source import PortError


def _framework(model) -> str:
    # A Keras model on the torch backend is also a torch.nn.Module: test Keras first.
    mods = {c.__module__.split(".")[0] for c in type(model).__mro__}
    if mods & {"keras", "tf_keras"}:
        return "keras"
    if "torch" in mods:
        return "torch"
    raise PortError(f"cannot port weights of a {type(model).__module__}.{type(model).__name__}: "
                    "expected a torch.nn.Module or a keras.Model")


def _describe(model) -> str:
    spec = getattr(model, "resdsl_spec", None)
    return f"'{spec}'" if spec else f"'{getattr(model, 'name', type(model).__name__)}'"


def port_weights(src, dst):
    """Copy every weight of `src` into `dst`; returns `dst`."""
    kinds = (_framework(src), _framework(dst))
    if kinds[1] == "keras":
        from .keras import keras_weights, set_keras_weights
        if kinds[0] == "keras":
            from .keras import keras_source
            source = keras_source(src)
        else:
            from .torch import torch_source
            source = torch_source(src)
        plan = keras_weights(dst, source, _context(src, dst))
        set_keras_weights(plan)
    else:
        if kinds[0] != "keras":
            raise PortError("porting between two PyTorch models needs no resdsl: use "
                            "dst.load_state_dict(src.state_dict())")
        from .keras import keras_source
        from .torch import set_torch_weights
        set_torch_weights(dst, keras_source(src), _context(src, dst))
    return dst


def _context(src, dst) -> str:
    fa, fb = getattr(src, "resdsl_fingerprint", None), getattr(dst, "resdsl_fingerprint", None)
    if fa and fb and fa != fb:
        return f" (src was built from {_describe(src)}, dst from {_describe(dst)}: not the same network)"
    return f" (src {_describe(src)}, dst {_describe(dst)})"


__all__ = ["PortError", "applications_name", "port_weights"]
