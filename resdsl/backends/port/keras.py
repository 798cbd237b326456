"""The Keras side of weight porting (imported only when a Keras model is involved)."""
from __future__ import annotations

import keras

from ..keras import layer_map
from .names import applications_name
from .source import PortError, Source


def kind_of(layer) -> str | None:
    if isinstance(layer, keras.layers.Conv2D):
        return "conv"
    if isinstance(layer, keras.layers.BatchNormalization):
        return "norm"
    if isinstance(layer, keras.layers.GroupNormalization):
        return "groupnorm"
    if isinstance(layer, keras.layers.LayerNormalization):
        return "layernorm"
    if isinstance(layer, keras.layers.Dense):
        return "dense"
    if isinstance(layer, keras.layers.Conv1D):
        return "conv1d"
    if layer.weights:
        raise PortError(f"layer '{layer.name}' ({type(layer).__name__}) has weights resdsl cannot port")
    return None


def flatten_geometry(layer) -> tuple | None:
    """(H, W, C) of the feature map a Flatten turned into this dense layer's
    input (through activations), or None. Needs the layer in a functional graph,
    which is where resdsl puts head layers."""
    try:
        t = layer.input
    except (AttributeError, ValueError):
        return None
    while True:
        history = getattr(t, "_keras_history", None)
        if history is None:
            return None
        op = history[0]
        if isinstance(op, keras.layers.Flatten):
            shape = tuple(op.input.shape[1:])
            return shape if len(shape) == 3 else None
        if not isinstance(op, (keras.layers.Activation, keras.layers.Dropout, keras.layers.ReLU)):
            return None
        t = op.input


def _as_dict(layer, kind: str) -> dict:
    w = layer.get_weights()
    if kind in ("norm", "groupnorm", "layernorm"):
        names = [n for n, on in (("gamma", layer.scale), ("beta", layer.center)) if on]
        return dict(zip(names + (["mean", "var"] if kind == "norm" else []), w))
    return dict(zip(["kernel", "bias"] if layer.use_bias else ["kernel"], w))


class KerasSource(Source):
    """Weights of a Keras model by resdsl name (keras.applications names too), in Keras layout."""

    def __init__(self, model):
        super().__init__({n: layer for n, layer in layer_map(model).items() if kind_of(layer)})

    def find(self, name: str):
        return next((c for c in (name, applications_name(name)) if c in self.entries), None)

    def kind(self, name: str) -> str:
        return kind_of(self.entries[name])

    def type_name(self, name: str) -> str:
        return type(self.entries[name]).__name__

    def read(self, name: str, kind: str, geometry) -> dict:
        return _as_dict(self.entries[name], kind)

    def geometry(self, name: str):
        found = self.find(name)
        return flatten_geometry(self.entries[found]) if found else None


def keras_source(model) -> KerasSource:
    return KerasSource(model)


def keras_weights(dst, source, context: str) -> list:
    """[(layer, [arrays])] for every weighted layer of dst, all shapes checked."""
    plan = []
    for name, layer in layer_map(dst).items():
        kind = kind_of(layer)
        if kind is None:
            continue
        d = source.get(name, kind, context, flatten_geometry(layer) if kind == "dense" else None)
        want = _as_dict(layer, kind)
        if set(d) != set(want):
            raise PortError(f"layer '{name}' does not fit: src has {sorted(d)}, dst needs {sorted(want)}{context}")
        for key, arr in want.items():
            if tuple(d[key].shape) != tuple(arr.shape):
                raise PortError(f"layer '{name}' does not fit: {key} of shape {tuple(d[key].shape)} in src, "
                                f"{tuple(arr.shape)} in dst{context}")
        plan.append((layer, [d[k] for k in want]))
    left = source.unused()
    if left:
        raise PortError(f"layer '{left[0]}' of src has no counterpart in dst{context}")
    return plan


def set_keras_weights(plan) -> None:
    for layer, arrays in plan:
        layer.set_weights(arrays)
