"""The PyTorch side of weight porting (imported only when a torch model is involved).

torch keeps conv kernels as (out, in/groups, kh, kw) and Keras as (kh, kw,
in/groups, out); dense kernels are (out, in) against (in, out); and torch
flattens a feature map as C,H,W where Keras flattens H,W,C.
"""
from __future__ import annotations

import numpy as np
import torch

from .source import PortError, Source

# Subclasses count too: the torch backend pads asymmetric convs in a Conv2d subclass.
_KINDS = ((torch.nn.Conv2d, "conv"), (torch.nn.modules.batchnorm._BatchNorm, "norm"), (torch.nn.Linear, "dense"),
          (torch.nn.Conv1d, "conv1d"), (torch.nn.GroupNorm, "groupnorm"), (torch.nn.LayerNorm, "layernorm"))
# Kernel layouts: torch (out, in/groups, *window) -> Keras (*window, in/groups, out), and back.
_TO_KERAS = {"conv": (2, 3, 1, 0), "conv1d": (2, 1, 0)}
_TO_TORCH = {"conv": (3, 2, 0, 1), "conv1d": (2, 1, 0)}
NORM_KINDS = ("norm", "groupnorm", "layernorm")  # gamma and beta (batch norm: and its statistics)
_NORM = {"weight": "gamma", "bias": "beta", "running_mean": "mean", "running_var": "var"}


def _groups(sd: dict) -> dict[str, dict]:
    """module name -> {weight|bias|running_mean|running_var: tensor}"""
    out: dict[str, dict] = {}
    for key, value in sd.items():
        module, _, leaf = key.rpartition(".")
        if leaf == "num_batches_tracked":
            continue
        out.setdefault(module, {})[leaf] = value
    return out


def _dense_to_keras(w: np.ndarray, geometry) -> np.ndarray:
    if geometry is None:
        return w.T
    h, wd, c = geometry
    return w.reshape(-1, c, h, wd).transpose(2, 3, 1, 0).reshape(h * wd * c, -1)


def _dense_to_torch(k: np.ndarray, geometry) -> np.ndarray:
    if geometry is None:
        return k.T
    h, wd, c = geometry
    return k.reshape(h, wd, c, -1).transpose(3, 2, 0, 1).reshape(k.shape[1], -1)


def to_keras(kind: str, t: dict, geometry) -> dict:
    t = {k: v.detach().cpu().numpy() for k, v in t.items()}
    if kind in NORM_KINDS:
        return {_NORM[k]: v for k, v in t.items()}
    w = t["weight"]
    out = {"kernel": w.transpose(_TO_KERAS[kind]) if kind in _TO_KERAS else _dense_to_keras(w, geometry)}
    if "bias" in t:
        out["bias"] = t["bias"]
    return out


def to_torch(kind: str, d: dict, geometry) -> dict:
    if kind in NORM_KINDS:
        back = {v: k for k, v in _NORM.items()}
        return {back[k]: v for k, v in d.items()}
    k = d["kernel"]
    out = {"weight": k.transpose(_TO_TORCH[kind]) if kind in _TO_TORCH else _dense_to_torch(k, geometry)}
    if "bias" in d:
        out["bias"] = d["bias"]
    return out


def _kind(model, name: str) -> str:
    module = model.get_submodule(name)
    kind = next((k for cls, k in _KINDS if isinstance(module, cls)), None)
    if kind is None:
        raise PortError(f"layer '{name}' ({type(module).__name__}) has weights resdsl cannot port")
    return kind


class TorchSource(Source):
    """Weights of a torch model by IR name, converted to Keras layout on request."""

    def __init__(self, model):
        super().__init__(_groups(model.state_dict()))
        self.model = model

    def kind(self, name: str) -> str:
        return _kind(self.model, name)

    def type_name(self, name: str) -> str:
        return type(self.model.get_submodule(name)).__name__

    def read(self, name: str, kind: str, geometry) -> dict:
        return to_keras(kind, self.entries[name], geometry)


def torch_source(model) -> TorchSource:
    return TorchSource(model)


def set_torch_weights(dst, source, context: str) -> None:
    """Fill a torch model from a Keras source; checks every shape before writing."""
    writes = []
    for name, tensors in _groups(dst.state_dict()).items():
        kind = _kind(dst, name)
        d = source.get(name, kind, context)
        new = to_torch(kind, d, source.geometry(name) if kind == "dense" else None)
        if set(new) != set(tensors):
            raise PortError(f"layer '{name}' does not fit: src has {sorted(d)}, dst needs "
                            f"{sorted(tensors)}{context}")
        for key, value in new.items():
            if tuple(value.shape) != tuple(tensors[key].shape):
                raise PortError(f"layer '{name}' does not fit: {key} of shape {tuple(value.shape)} from src, "
                                f"{tuple(tensors[key].shape)} in dst{context}")
            writes.append((tensors[key], value))
    left = source.unused()
    if left:
        raise PortError(f"layer '{left[0]}' of src has no counterpart in dst{context}")
    with torch.no_grad():
        for target, value in writes:
            target.copy_(torch.from_numpy(np.ascontiguousarray(value)).to(target.dtype))
