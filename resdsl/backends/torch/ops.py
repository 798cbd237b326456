"""The torch backend's op -> handler table: each handler writes the constructor
expression of the module for one IR node, as code text (no torch import).

An attribute is either a literal or, inside a block class, the name of the
constructor parameter that carries it (when it differs between the instances of
that block kind); `Attrs` hides the difference. Constructors whose shape depends
on a value (symmetric or asymmetric padding) go through a runtime helper
(`conv`, `max_pool`, `zero_pad`, `act`) when that value is a parameter.
"""
from __future__ import annotations

import ast
import functools
from dataclasses import dataclass
from pathlib import Path

# The names a layer may not have (resdsl.vocab, where validate reads them too).
from ...vocab import NN_MODULE_NAMES, NN_MODULE_PRIVATE, OWN_NAMES, reserved_why  # noqa: F401  (re-exported: the emitter and tests read them here)
from ..codegen import Unsupported

INPLACE_ACTS = {"relu", "relu6", "silu"}


@functools.cache
def act_classes() -> dict[str, str]:
    """Activation name -> its torch class as code ("nn.ReLU"): the one torch table,
    runtime.ACTIVATIONS (which emitted modules carry), read from its text so that
    emitting imports no torch. Its names are vocab.ACTIVATIONS (tests/core/test_vocab.py)."""
    tree = ast.parse(Path(__file__).with_name("runtime.py").read_text(encoding="utf-8"))
    table = next(n.value for n in tree.body if isinstance(n, ast.Assign) and isinstance(n.targets[0], ast.Name)
                 and n.targets[0].id == "ACTIVATIONS")
    return {ast.literal_eval(k): ast.unparse(v) for k, v in zip(table.keys, table.values)}

# Ops whose output is a new tensor that autograd does not keep (conv and norm save
# their input, not their output), so the single consumer may overwrite it in place.
FRESH_OPS = {"conv", "norm", "add", "dense"}


def literal(v) -> str:
    """Code for a value; (3, 3) and (1, 1, 1, 1) read as 3 and 1."""
    if isinstance(v, tuple) and len(v) in (2, 4) and all(x == v[0] for x in v):
        v = v[0]
    return literal_value(v)


def literal_value(v) -> str:
    if isinstance(v, str) and v.isidentifier():  # enumerations: "relu", "glorot_uniform"
        return f'"{v}"'
    return repr(v)


@dataclass
class Attrs:
    values: dict             # attr -> value (the first instance's, for a block kind)
    params: dict             # attr -> constructor parameter name, for attrs that vary
    inplace: bool = False    # the input may be overwritten (see FRESH_OPS)
    rank: int = 3            # rank of the input shape without batch: 3 feature map, 1 vector

    def is_param(self, key: str) -> bool:
        return key in self.params

    def code(self, key: str) -> str:
        return self.params[key] if key in self.params else literal(self.values[key])

    def keywords(self, **defaults) -> list[str]:
        """`key=value` for each attribute that is a parameter or differs from the helper's default."""
        out = []
        for key, default in defaults.items():
            code = self.code(key)
            if self.is_param(key) or code != literal(default):
                out.append(f"{key}={code}")
        return out


def _call(fn: str, args: list[str]) -> str:
    return f"{fn}({', '.join(args)})"


def _conv(a: Attrs) -> str:
    args = [a.code("in_channels"), a.code("filters"), a.code("kernel")]
    kw = a.keywords(stride=1, padding=0, groups=1, bias=False, init="kaiming_normal_fan_out")
    if a.is_param("standardize"):
        raise Unsupported("weight standardisation on in some blocks of a kind and off in others")
    if a.values.get("standardize"):
        ctor = _call("std_conv", args + kw + [f"eps={a.code('standardize_eps')}"])
    else:
        ctor = _call("conv", args + kw)
    if a.is_param("dilation") or a.values.get("dilation", (1, 1)) != (1, 1):
        ctor = _call("dilated", [ctor, a.code("dilation")])
    return ctor


def _norm(a: Attrs) -> str:
    if a.values["type"] == "groupnorm":  # never a parameter: templates.STRUCTURAL
        return _call("group_norm", [a.code("groups"), a.code("in_channels")] + a.keywords(eps=1e-5, gamma_init="ones"))
    if a.values["type"] == "layernorm":
        return _call("layer_norm", [a.code("in_channels")] + a.keywords(eps=1e-5, gamma_init="ones")
                     + (["dims=1"] if a.rank == 1 else []))
    if a.values["type"] != "batchnorm":
        raise Unsupported(f"norm type '{a.values['type']}' (batchnorm, groupnorm or layernorm)")
    args = [a.code("in_channels")] + a.keywords(eps=1e-5, momentum=0.1, gamma_init="ones")
    return _call("norm", args + (["dims=1"] if a.rank == 1 else []))


def _act(a: Attrs) -> str:
    if a.is_param("fn"):
        return _call("act", [a.code("fn")] + (["inplace=True"] if a.inplace else []))
    fn = a.values["fn"]
    if fn not in act_classes():
        raise Unsupported(f"activation '{fn}'")
    return act_classes()[fn] + ("(inplace=True)" if a.inplace and fn in INPLACE_ACTS else "()")


def _plain_padding(a: Attrs) -> str | None:
    """Code for nn.MaxPool2d's own `padding` when it can express this one, else None."""
    if any(a.is_param(k) for k in ("kernel", "padding")):
        return None
    (kh, kw), (t, b, left, right) = a.values["kernel"], a.values["padding"]
    if t != b or left != right or 2 * t > kh or 2 * left > kw:
        return None
    return literal((t, left))


def _maxpool(a: Attrs) -> str:
    a.values = {"ceil_mode": False, **a.values}  # the IR omits the default
    ceil = a.keywords(ceil_mode=False)
    pad = _plain_padding(a)
    if pad is None:
        return _call("max_pool", [a.code("kernel"), a.code("stride"), a.code("padding")] + ceil)
    return _call("nn.MaxPool2d", [a.code("kernel"), f"stride={a.code('stride')}"]
                 + ([f"padding={pad}"] if pad != "0" else []) + ceil)


def _avgpool(a: Attrs) -> str:
    a.values = {"ceil_mode": False, "count_include_pad": True, **a.values}  # the IR omits the defaults
    extra = a.keywords(ceil_mode=False, count_include_pad=True)
    if not extra and not a.is_param("padding") and not any(a.values["padding"]):
        return _call("nn.AvgPool2d", [a.code("kernel"), a.code("stride")])
    if not a.is_param("padding"):
        t, b, left, right = a.values["padding"]
        if t != b or left != right:
            raise Unsupported("asymmetric avgpool padding (PyTorch's AvgPool2d pads both sides equally)")
    return _call("avg_pool", [a.code("kernel"), a.code("stride"), a.code("padding")] + extra)


def _global_pool(mode: str):
    def handler(a: Attrs) -> str:
        keep = a.values.get("keepdims", False) or a.is_param("keepdims")
        if mode == "avg" and not keep:
            return "GlobalAvgPool()"
        return _call("GlobalPool", [literal_value(mode)] + ([f"keepdim={a.code('keepdims')}"] if keep else []))
    return handler


def _zeropad(a: Attrs) -> str:
    if a.is_param("padding"):
        return _call("zero_pad", [a.code("padding")])
    t, b, left, right = a.values["padding"]
    return _call("nn.ZeroPad2d", [literal((left, right, t, b))])


def _split(a: Attrs) -> str:
    if a.values["parts"] or a.is_param("parts"):
        return _call("Split", [a.code("index"), a.code("parts")])
    sizes = literal_value(tuple(a.values["sizes"]))
    if a.is_param("sizes"):  # an expression per part; parts that are all alike read as one
        code, n = a.params["sizes"], len(a.values["sizes"])
        sizes = code if code.startswith("(") else f"({code},) * {n}"
    return _call("Split", [a.code("index"), f"sizes={sizes}"])


def _softmax(a: Attrs) -> str:
    if not a.is_param("axis") and a.values["axis"] == "channels":
        return "nn.Softmax(dim=1)"
    return _call("Softmax", [a.code("axis")] + a.keywords(paths=1, groups=1))


def _blur_pool(a: Attrs) -> str:
    return _call("BlurPool", [a.code("in_channels")] + a.keywords(kernel=3, stride=2, padding=(1, 1, 1, 1),
                                                                  pad_mode="reflect"))


def _dense(a: Attrs) -> str:
    if not a.is_param("activation") and a.values["activation"] not in {*act_classes(), "softmax"}:
        raise Unsupported(f"dense activation '{a.values['activation']}'")
    args = [a.code("in_channels"), a.code("units")]
    kw = a.keywords(activation="linear", bias=True, init="torch_default")
    if all(not k.startswith(("activation=", "init=")) for k in kw):  # exactly torchvision's fc
        return _call("nn.Linear", args + kw)
    return _call("dense", args + kw)


HANDLERS = {
    "conv": _conv,
    "norm": _norm,
    "act": _act,
    "maxpool": _maxpool,
    "avgpool": _avgpool,
    "global_avgpool": _global_pool("avg"),
    "global_maxpool": _global_pool("max"),
    "global_avgmaxpool": _global_pool("avgmax"),
    "dropout": lambda a: _call("nn.Dropout", [a.code("rate")]),
    "multiply": lambda a: "Multiply()",
    "identity": lambda a: "nn.Identity()",
    "drop_path": lambda a: _call("DropPath", [a.code("rate")]),
    "channel_conv": lambda a: _call("ChannelConv", [a.code("kernel")] + a.keywords(bias=False)),
    "zeropad": _zeropad,
    "subsample": lambda a: _call("Subsample", [a.code("stride")]),
    "channel_pad": lambda a: _call("ChannelPad", [a.code("before"), a.code("after")]),
    "add": lambda a: "Add(inplace=True)" if a.inplace else "Add()",
    "split": _split,
    "concat": lambda a: "Concat()",
    "softmax": _softmax,
    "blur_pool": _blur_pool,
    "attention_pool": lambda a: "AttentionPool()",
    "flatten": lambda a: "nn.Flatten()",
    "dense": _dense,
}


# Ops whose module takes its inputs as one list (TorchScript has no *args in forward).
LIST_INPUTS = {"concat"}
