"""Keras source: a module that imports only keras, written as the articles
write Keras ResNets — one function per block kind (their `identity_block` /
`convolutional_block`), stages as a loop over data, `build_model()`.

Pure text generation from the IR: no framework is imported here. The layers
and padding decisions are those of `build` (keras.layers), so the emitted
model equals the built one, layer names included.
"""
from __future__ import annotations

import ast
import json
import keyword
import re
from functools import lru_cache
from pathlib import Path

from ...ir import Resolved
from ...version import __version__
from ..common import block_kinds, fingerprint, stage_runs, unsupported
from .plan import BACKEND, fused_norms, output_names, plan

HELPERS = {
    "named": '''
def named(name):
    """Layer names are resdsl's structural names (`layer2.0.conv1`). Keras on PyTorch
    registers weights as torch parameters, which refuse dots: there a look-alike
    dot (U+2024) stands in."""
    return name.replace(".", "\\u2024") if keras.backend.backend() == "torch" else name
''',
    "conv": '''
def conv(x, filters, kernel, stride, padding, name, use_bias, groups=1, init="glorot_uniform"):
    """Conv2D with explicit (top, bottom, left, right) padding. 'same' only where
    it is identical (stride 1, symmetric k//2): at stride 2 Keras pads after."""
    kernel, stride = pair(kernel), pair(stride)
    top, bottom, left, right = padding = (padding,) * 4 if isinstance(padding, int) else tuple(padding)
    mode = "valid"
    if stride == (1, 1) and kernel[0] % 2 and kernel[1] % 2 and top == bottom == kernel[0] // 2 \\
            and left == right == kernel[1] // 2:
        mode = "same"
    elif any(padding):
        x = layers.ZeroPadding2D(((top, bottom), (left, right)), name=name + "_pad")(x)
    fan_in = kernel[0] * kernel[1] * x.shape[-1] // groups
    return layers.Conv2D(filters, kernel, strides=stride, padding=mode, groups=groups, use_bias=use_bias,
                         kernel_initializer=kernel_init(init), bias_initializer=bias_init(init, fan_in),
                         name=name)(x)
''',
    "pair": '''
def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)
''',
    "dense": '''
def dense(x, units, activation, name, use_bias, init="glorot_uniform"):
    return layers.Dense(units, activation=activation, use_bias=use_bias, kernel_initializer=kernel_init(init),
                        bias_initializer=bias_init(init, x.shape[-1]), name=name)(x)
''',
    "init": '''
def kernel_init(init):
    # PyTorch's default init is kaiming_uniform(a=sqrt(5)) = VarianceScaling(1/3, fan_in, uniform).
    return {"torch_default": keras.initializers.VarianceScaling(1 / 3, "fan_in", "uniform"),
            "kaiming_normal_fan_out": keras.initializers.VarianceScaling(2.0, "fan_out", "untruncated_normal"),
            "kaiming_normal_fan_in": keras.initializers.VarianceScaling(2.0, "fan_in", "untruncated_normal"),
            "glorot_uniform": keras.initializers.GlorotUniform(),
            "glorot_normal": keras.initializers.GlorotNormal()}[init]


def bias_init(init, fan_in):
    if init == "torch_default":  # PyTorch: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
        return keras.initializers.RandomUniform(-fan_in ** -0.5, fan_in ** -0.5)
    return "zeros"
''',
    "maxpool": '''
class NegInfPadding2D(layers.Layer):
    """Pads with -inf, so padding never wins a max-pool (PyTorch's max-pool padding)."""

    def __init__(self, padding, **kwargs):
        super().__init__(**kwargs)
        self.padding = tuple(padding)

    def call(self, x):
        top, bottom, left, right = self.padding
        return ops.pad(x, [[0, 0], [top, bottom], [left, right], [0, 0]], constant_values=float("-inf"))

    def compute_output_shape(self, s):
        top, bottom, left, right = self.padding
        return (s[0], s[1] + top + bottom, s[2] + left + right, s[3])

    def get_config(self):
        return {**super().get_config(), "padding": list(self.padding)}


def max_pool(x, kernel, stride, padding, name):
    if any(padding):
        x = NegInfPadding2D(padding, name=name + "_pad")(x)
    return layers.MaxPooling2D(kernel, stride, padding="valid", name=name)(x)
''',
    "channel_pad": '''
class ChannelPad(layers.Layer):
    """Adds zero channels: the parameter-free option-A shortcut of He et al. (2016)."""

    def __init__(self, before, after, **kwargs):
        super().__init__(**kwargs)
        self.before, self.after = before, after

    def call(self, x):
        return ops.pad(x, [[0, 0], [0, 0], [0, 0], [self.before, self.after]])

    def compute_output_shape(self, s):
        return (*s[:3], s[3] + self.before + self.after)

    def get_config(self):
        return {**super().get_config(), "before": self.before, "after": self.after}
''',
}


EXTRA = Path(__file__).with_name("extra.py")
# op -> the keras.extra definitions its emitted code needs, in file order
EXTRA_FOR = {"avgpool": ("window_count", "AvgPool2DPad"), "global_avgmaxpool": ("GlobalAvgMaxPool",),
             "channel_conv": ("ChannelConv",), "drop_path": ("DropPath",)}


@lru_cache(maxsize=1)
def _extra_defs() -> dict[str, str]:
    text = EXTRA.read_text(encoding="utf-8")
    return {n.name: ast.get_source_segment(text, n) for n in ast.parse(text).body
            if isinstance(n, (ast.FunctionDef, ast.ClassDef))}


def _safe_text(s: str) -> str:
    """Spec text for a docstring: no control characters, backslashes or closing quotes."""
    s = "".join(ch if ch.isprintable() else " " for ch in str(s))
    return s.replace("\\", "/").replace('"""', "'''")


def _var(local: str, taken: set[str]) -> str:
    v = re.sub(r"\W", "_", local)
    # A layer named `class` or `conv` must not become `class = ...` or shadow a helper.
    if not v.isidentifier() or keyword.iskeyword(v) or v in taken or v in {"keras", "layers", "ops", *HELPERS} \
            or v[0].isdigit():
        v = f"t_{v}"
    return v


def _momentum(expr: str, value) -> str:
    # Keras' momentum weighs the running average; the IR's (PyTorch's) weighs the batch.
    return f"1 - {expr}" if not isinstance(value, (int, float)) else repr(round(1.0 - value, 12))


# One IR node as Keras code: op -> template. `{x}` is the input expression,
# `{name}` the layer-name expression, other fields the node's attributes.
TEMPLATES = {
    "conv": "conv({x}, {filters}, {kernel}, {stride}, {padding}, {name}, use_bias={bias}, groups={groups}, "
            "init={init})",
    "act": "layers.Activation({fn}, name={name})({x})",
    "maxpool": "max_pool({x}, {kernel}, {stride}, {padding}, {name})",
    "avgpool": "layers.AveragePooling2D({kernel}, {stride}, name={name})({x})",
    "global_avgpool": "layers.GlobalAveragePooling2D(name={name})({x})",
    "subsample": "layers.MaxPooling2D(1, strides={stride}, name={name})({x})",  # = x[:, ::s, ::s]
    "channel_pad": "ChannelPad({before}, {after}, name={name})({x})",
    "add": "layers.Add(name={name})([{x}])",
    "flatten": "layers.Flatten(name={name})({x})",
    "global_maxpool": "layers.GlobalMaxPooling2D(keepdims={keepdims}, name={name})({x})",
    "global_avgmaxpool": "GlobalAvgMaxPool({keepdims}, name={name})({x})",
    "dropout": "layers.Dropout({rate}, name={name})({x})",
    "identity": "layers.Identity(name={name})({x})",
    "drop_path": "DropPath({rate}, name={name})({x})",
    "multiply": "layers.Multiply(name={name})([{x}])",  # broadcasts a (1, 1, C) gate
    "channel_conv": "ChannelConv({kernel}, {bias}, name={name})({x})",
    "dense": "dense({x}, {units}, {activation}, {name}, use_bias={bias}, init={init})",
}


class _Fields(dict):
    def __init__(self, a, **fixed):
        super().__init__(fixed)
        self.a = a

    def __missing__(self, key):
        return self.a(key)


def _layer(op: str, a, x: str, name: str) -> str:
    """One IR node as Keras code; `a(key)` gives an attribute as an expression."""
    if op == "norm":
        gamma = "" if a("gamma_init") == "'ones'" else f", gamma_initializer={a('gamma_init')}"
        return (f"layers.BatchNormalization(epsilon={a('eps')}, momentum={_momentum(a('momentum'), a.raw('momentum'))}"
                f"{gamma}, name={name})({x})")
    if op == "zeropad":
        p, e = a.raw("padding"), a("padding")
        pairs = f"(({p[0]}, {p[1]}), ({p[2]}, {p[3]}))" if isinstance(p, tuple) else \
            f"(({e}[0], {e}[1]), ({e}[2], {e}[3]))"
        return f"layers.ZeroPadding2D({pairs}, name={name})({x})"
    if op == "avgpool" and _padded_pool(a):
        return (f"AvgPool2DPad({a('kernel')}, {a('stride')}, {a('padding')}, {a('ceil_mode')}, "
                f"{a('count_include_pad')}, name={name})({x})")
    if op == "global_avgpool" and a.raw("keepdims"):
        return f"layers.GlobalAveragePooling2D(keepdims={a('keepdims')}, name={name})({x})"
    return TEMPLATES[op].format_map(_Fields(a, x=x, name=name))


def _padded_pool(a) -> bool:
    """Whether an avgpool needs AvgPool2DPad (padding or ceil_mode, or either set per block)."""
    pad, ceil = a.raw("padding"), a.raw("ceil_mode")
    return isinstance(pad, str) or isinstance(ceil, str) or any(pad) or bool(ceil)


class _Attrs:
    """Attribute expressions: a parameter's name, or the constant's repr."""

    def __init__(self, attrs: dict, params: dict | None = None, fused: bool = False):
        self.attrs, self.params, self.fused = attrs, params or {}, fused

    def raw(self, key):
        return self.params.get(key, self.attrs.get(key))

    def __call__(self, key) -> str:
        if key in self.params:
            return self.params[key]
        if key == "bias" and self.fused:
            return "True"
        fallback = {"gamma_init": "ones", "keepdims": False, "ceil_mode": False, "count_include_pad": True}
        return repr(self.attrs.get(key, fallback.get(key, "linear")))


def _block_function(resolved: Resolved, info, fname: str, folds: dict[str, str]) -> tuple[str, list[str]]:
    first = info.instances[0]
    local_folds = {n[len(first) + 1:]: c[len(first) + 1:] for n, c in folds.items() if n.startswith(first + ".")}
    params = sorted({p for (loc, attr), p in info.params.items() if attr != "in_channels"})
    taken = {"x", "name", *params}
    var = {"x": "x"}
    lines = []
    for local in info.locals:
        if local in local_folds:
            var[local] = var[local_folds[local]]
            continue
        op = info.ops[local]
        ins = ", ".join(var[i] for i in info.inputs[local])
        var[local] = _var(local, taken)
        taken.add(var[local])
        lp = {attr: p for (loc, attr), p in info.params.items() if loc == local}
        a = _Attrs(info.attrs[local], lp, fused=local in local_folds.values())
        lines.append(f"    {var[local]} = {_layer(op, a, ins, 'named(name + ' + json.dumps('.' + local) + ')')}")
    out_local = info.locals[-1]
    sig = ", ".join(["x", "name", *params])
    kind = info.kind if "block" in info.kind else f"{info.kind} block"
    doc = f'    """{kind} ({info.shortcut} shortcut); layers are named `<name>.<layer>`."""'
    body = "\n".join(lines)
    return f"def {fname}({sig}):\n{doc}\n{body}\n    return {var[local_folds.get(out_local, out_local)]}\n", params


def _helpers(ops_used: set[str]) -> list[str]:
    """The helper functions and layers the emitted module needs, in order."""
    out = ["init"] if ops_used & {"conv", "dense"} else []
    out += ["pair", "conv"] if "conv" in ops_used else []
    out += [op for op in ("dense", "maxpool", "channel_pad") if op in ops_used]
    return out


def _docstring(resolved: Resolved, fuse_bn: bool) -> list[str]:
    c, h, w = resolved.input_shape
    doc = [f'"""{_safe_text(resolved.name)}: {_safe_text(resolved.description)}', "",
           (f"Generated by resdsl {__version__} (Keras 3 backend) from spec '{_safe_text(resolved.name)}'."
            " Edit the spec and recompile rather than this file."),
           f"{resolved.params:,} parameters, {resolved.buffers:,} batch-norm statistics, "
           f"{resolved.macs / 1e9:.2f} G multiply-accumulates at {h}x{w}x{c}" +
           (" (counted before folding batch norm into the convs)." if fuse_bn else "."),
           "Layer names are resdsl's structural names (`layer2.0.conv1`), as in the PyTorch build,",
           "so `resdsl.port_weights` can copy weights between the two."]
    if len(resolved.graph) > 1500:
        doc += ["", "Functional Keras recurses once per layer while wiring a model: at this depth call",
                "sys.setrecursionlimit(20000) before build_model(), or use resdsl.build(..., backend='keras')."]
    return doc + ['"""']


def emit(resolved: Resolved, fuse_bn: bool = False) -> str:
    top = plan(resolved, fuse_bn)  # also checks every op is expressible
    folds = fused_norms(resolved) if fuse_bn else {}
    g = resolved.graph
    kinds, of_block = block_kinds(resolved)
    runs = stage_runs(resolved, of_block)
    ops_used = {d["op"] for _, d in g.nodes(data=True)}
    fnames, functions = {}, []
    for info in kinds:
        snake = re.sub(r"(?<!^)(?=[A-Z])", "_", info.class_name).lower()
        fnames[id(info)] = snake if "block" in snake else f"{snake}_block"
        src, params = _block_function(resolved, info, fnames[id(info)], folds)
        functions.append((src, params))
    kind_params = {id(info): p for info, (_, p) in zip(kinds, functions)}

    first_stage = next((i for i, it in enumerate(top) if it["kind"] == "stage"), len(top))
    last_stage = max((i for i, it in enumerate(top) if it["kind"] == "stage"), default=-1)
    if any(it["kind"] != "stage" for it in top[first_stage:last_stage + 1]):
        node = next(it["name"] for it in top[first_stage:last_stage + 1] if it["kind"] != "stage")
        raise unsupported(BACKEND, resolved, node, "emitted Keras code needs the stages to be consecutive")

    fused = set(folds.values())

    def chain(items, prev):
        lines = []
        for it in items:
            if it["inputs"] != [prev]:
                raise unsupported(BACKEND, resolved, it["name"], "stem and head must be a chain of layers")
            a = _Attrs(g.nodes[it["name"]]["attrs"], fused=it["name"] in fused)
            name = f"named({it['name']!r})" if "." in it["name"] else repr(it["name"])
            lines.append(f"    x = {_layer(it['op'], a, 'x', name)}")
            prev = it["name"]
        return lines, prev

    stem, prev = chain(top[:first_stage], "input")
    head_items = top[last_stage + 1:]
    stage_rows = []
    for st in resolved.stages:
        for run in runs[st.name]:
            kw = {k: v for k, v in run.values.items() if k in kind_params[id(run.kind)]}
            stage_rows.append(f"    ({st.name!r}, {fnames[id(run.kind)]}, {run.first_index}, {run.count}, {kw!r}),")
            for i in range(run.count):
                expected = f"{st.name}.{run.first_index + i}"
                if st.blocks[run.first_index + i] != expected:
                    raise unsupported(BACKEND, resolved, resolved.blocks[0].input,
                                      f"block '{st.blocks[run.first_index + i]}' is not named {expected}")
    if top[first_stage:last_stage + 1]:
        prev = top[last_stage]["output"]
    head, _ = chain(head_items, prev)

    helpers = _helpers(ops_used)
    extra_ops = {d["op"] for _, d in g.nodes(data=True)
                 if d["op"] != "avgpool" or any(d["attrs"]["padding"]) or d["attrs"].get("ceil_mode")}
    extra = [n for n in _extra_defs() if any(n in EXTRA_FOR.get(op, ()) for op in extra_ops)]
    needs_ops = bool({"maxpool", "channel_pad"} & ops_used or extra)
    needs_random = "DropPath" in extra
    c, h, w = resolved.input_shape
    doc = _docstring(resolved, fuse_bn)
    out = doc + ["import keras"] + (["import numpy as np"] if "AvgPool2DPad" in extra else []) + [
                 "from keras import layers" + (", ops" if needs_ops else "") + (", random" if needs_random else ""), "",
                 f"RESDSL_SPEC = {resolved.name!r}", f"RESDSL_FINGERPRINT = {fingerprint(resolved)!r}", "",
                 HELPERS["named"]]
    for hname in helpers:
        out.append(HELPERS[hname].rstrip("\n") + "\n")
    for ename in extra:
        out += ["", _extra_defs()[ename] + "\n"]
    for src, _ in functions:
        out += ["", src]
    out += ["", "# (stage, block function, index of the first block, number of blocks, arguments)",
            "STAGES = [", *stage_rows, "]", "", "",
            "def build_model():",
            f"    inputs = keras.Input(shape=({h}, {w}, {c}), name=\"input\")",
            "    x = inputs", *stem,
            "    for stage, block, first, count, kwargs in STAGES:",
            "        for i in range(first, first + count):",
            "            x = block(x, f\"{stage}.{i}\", **kwargs)" if stage_rows else "            pass",
            *head, *_model_lines(resolved, fuse_bn), ""]
    return "\n".join(out)


def _model_lines(resolved: Resolved, fuse_bn: bool) -> list[str]:
    """The end of build_model(): the model, with each of the spec's outputs (in
    order, named as the spec names them) when it has several."""
    if len(resolved.outputs) == 1:
        return [f"    return keras.Model(inputs, x, name={resolved.name!r})"]
    rows = [f"        {n!r}," for n in output_names(resolved, fuse_bn)]
    return ["    # The spec's outputs: the values of these layers, in this order.",
            "    graph = keras.Model(inputs, x)", "    outputs = [graph.get_layer(named(n)).output for n in (",
            *rows, "    )]", f"    model = keras.Model(inputs, outputs, name={resolved.name!r})",
            f"    model.output_names = {list(resolved.output_names)!r}", "    return model"]
