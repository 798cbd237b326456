"""The Keras side of weight porting (imported only when a Keras model is involved)."""
from __future__ import annotations

import keras

from .keras import layer_map
from .port import PortError
from .port_names import applications_name


def kind_of(layer) -> str | None:
    if isinstance(layer, keras.layers.Conv2D):
        return "conv"
    if isinstance(layer, keras.layers.BatchNormalization):
        return "norm"
    if isinstance(layer, keras.layers.Dense):
        return "dense"
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
    w = [keras.ops.convert_to_numpy(v) for v in layer.weights]
    if kind == "norm":
        names = [n for n, on in (("gamma", layer.scale), ("beta", layer.center)) if on] + ["mean", "var"]
        return dict(zip(names, w))
    return dict(zip(["kernel", "bias"] if layer.use_bias else ["kernel"], w))


class KerasSource:
    """Weights of a Keras model by resdsl name, in Keras layout."""

    def __init__(self, model):
        self.layers = {n: layer for n, layer in layer_map(model).items() if kind_of(layer)}
        self.used: set[str] = set()

    def find(self, name: str):
        for candidate in (name, applications_name(name)):
            if candidate in self.layers:
                return candidate
        return None

    def get(self, name: str, kind: str, context: str, geometry=None) -> dict:
        found = self.find(name)
        if found is None:
            raise PortError(f"layer '{name}' does not fit: src has no layer of that name{context}")
        layer = self.layers[found]
        if kind_of(layer) != kind:
            raise PortError(f"layer '{name}' does not fit: it is a {kind} in dst but a "
                            f"{type(layer).__name__} in src{context}")
        self.used.add(found)
        return _as_dict(layer, kind)

    def geometry(self, name: str):
        found = self.find(name)
        return flatten_geometry(self.layers[found]) if found else None

    def unused(self) -> list[str]:
        return [n for n in self.layers if n not in self.used]


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
