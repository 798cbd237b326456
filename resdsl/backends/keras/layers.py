"""The Keras layers behind `resdsl.build(..., backend="keras")`.

Standard Keras layers do almost everything; keras.extra holds the layers that
fill the gaps (`ConstantPad2D` with -inf for PyTorch's max-pool padding,
`ChannelPad` for option-A shortcuts, ...), keras.rules decides which layers an
IR node becomes (the emitted source decides with the same rules), and here
`Block` and `Stage` hold a residual block's layers and a stage's blocks.

Why nest: Keras' functional API walks its graph recursively (once per layer
when building, again when serialising), so a flat cifar_resnet1202 (~4,000
layers) exceeds Python's default recursion limit and takes seconds to wire.
A `Block` builds its layers directly from the IR's shapes and reports its output
shape without tracing, so the top-level graph has one node per stage and the
model builds fast at any depth. The leaf layers keep the IR's names
(`layer2.0.conv1`), which `port_weights` and `layer_map` rely on, and
`model.summary(expand_nested=True)` shows them.

All custom layers are registered under the package "resdsl" when this module
is imported, which `import resdsl` arranges as soon as Keras is imported
(keras.registry), so `keras.saving.load_model` loads a saved resdsl model.
"""
from __future__ import annotations

import contextlib
import difflib
from types import SimpleNamespace

import keras
from keras import layers as L

# `construct` as a module: Keras' import hook (registry.py) may load this module
# while construct itself is still importing Keras.
from . import construct, extra, helpers, initializers, rules

PACKAGE = "resdsl"
# Registered by class name ("resdsl>ChannelPad"), which saved files refer to: keep the names.
for _cls in (extra.ConstantPad2D, extra.ChannelPad, extra.AvgPool2DPad, extra.MaxPool2DCeil, extra.GlobalAvgMaxPool,
             extra.ChannelConv, extra.DropPath):
    keras.saving.register_keras_serializable(package=PACKAGE)(_cls)


def nhwc(shape) -> tuple:
    """IR shapes are channels-first without the batch; Keras wants (None, H, W, C)."""
    shape = tuple(shape)
    return (None,) + (shape[1:] + shape[:1] if len(shape) == 3 else shape)


def op_of(node: dict) -> str:
    return node["op"]


def make_layers(node: dict) -> list:
    """The Keras layers for one IR node (see keras.plan.entry), as keras.rules
    decides; the last one carries the node's name, a padding layer before it
    `<name>_pad`."""
    op, a, name = node["op"], node["attrs"], node["name"]
    if op == "conv":
        fan_in = rules.conv_fan_in(a["kernel"], node["in_shape"][0], a["groups"])
        return helpers.conv_layers(a["filters"], a["kernel"], a["stride"], a["padding"], name, a["bias"], a["groups"],
                                   initializers.kernel(a["init"]), initializers.bias(a["init"], fan_in))
    if op == "maxpool":
        if a.get("ceil_mode"):  # one layer that pads as far as PyTorch's last, partial window reaches
            return [extra.MaxPool2DCeil(a["kernel"], a["stride"], a["padding"], name=name)]
        return helpers.max_pool_layers(a["kernel"], a["stride"], a["padding"], name)
    if op == "norm" and a.get("type") == "groupnorm":
        inits = initializers.norm(a.get("gamma_init", "ones"))
        return [L.GroupNormalization(a["groups"], axis=-1, epsilon=a["eps"], name=name,
                                     gamma_initializer=inits["gamma_initializer"],
                                     beta_initializer=inits["beta_initializer"])]
    if op == "norm":
        return [L.BatchNormalization(axis=-1, epsilon=a["eps"], momentum=rules.keras_momentum(a["momentum"]),
                                     name=name, **initializers.norm(a.get("gamma_init", "ones")))]
    if op == "dense":
        return [L.Dense(a["units"], activation=a.get("activation", "linear"), use_bias=a["bias"],
                        kernel_initializer=initializers.kernel(a["init"]),
                        bias_initializer=initializers.bias(a["init"], node["in_shape"][0]), name=name)]
    if op == "zeropad":
        return [L.ZeroPadding2D(rules.pad_pairs(a["padding"]), name=name)]
    if op == "avgpool" and rules.avg_pool_padded(a["padding"], a.get("ceil_mode", False)):
        op = "avgpool_padded"
    if op not in rules.LAYERS:  # keras.plan checks ops up front; this guards a hand-edited config
        raise ValueError(f"resdsl keras: no layer for op '{op}' (layer '{name}')")
    cls, args, kwargs = rules.LAYERS[op]
    args = [a[k] if isinstance(k, str) else k for k in args]
    kwargs = {kw: a.get(attr[0], *attr[1:]) for kw, attr in kwargs.items()}
    return [(getattr(extra, cls, None) or getattr(L, cls))(*args, **kwargs, name=name)]


@contextlib.contextmanager
def fast_variables():
    """Creates TensorFlow variables outside TensorFlow's name scopes.

    Keras opens a TensorFlow name scope per layer, so each variable's handle op
    carries a unique name (`layer2.0.conv1/kernel/`) as an attribute, and
    TensorFlow's eager kernel cache, keyed by attributes, misses for every
    variable: about half of a variable's creation time. Without the scope the
    names repeat (`kernel/`) and the cache hits. Keras identifies variables by
    their Keras path (`layer2.0.conv1/kernel`), which its own name-scope stack
    gives and this leaves alone; only the TensorFlow-level name gets shorter."""
    if keras.backend.backend() != "tensorflow":
        yield
        return
    import tensorflow as tf

    def creator(next_creator, **kwargs):
        with tf.name_scope(""):
            return next_creator(**kwargs)

    with tf.variable_creator_scope(creator):
        yield


def build_layer(layer, shape) -> None:
    """Builds a layer. Keras on PyTorch registers each variable as a torch
    parameter keyed by its path (`layer2.0.conv1/kernel`), and torch refuses
    dots in parameter names; there the variables are created under a look-alike
    name (U+2024, one-dot leader) and the layer keeps its IR name."""
    if "." in layer.name and keras.backend.backend() == "torch":
        name = layer.name
        layer.name = name.replace(".", "\u2024")
        try:
            layer.build(shape)
        finally:
            layer.name = name
    else:
        layer.build(shape)


def run(program, tensors: dict) -> dict:
    """Applies (name, inputs, layers) steps in order; `tensors` maps names to values."""
    for name, inputs, layers in program:
        xs = [tensors[i] for i in inputs]
        y = xs if len(xs) > 1 else xs[0]
        for layer in layers:
            y = layer(y)
        tensors[name] = y
    return tensors


def ir_name(layer) -> str:
    """A layer's IR name (a look-alike dot, U+2024, which emitted modules use on
    Keras' torch backend, reads as a dot)."""
    return layer.name.replace("\u2024", ".")


def find_layer(container, name: str):
    """The layer named `name` (an IR name) anywhere inside `container`, or None."""
    want = name.replace("\u2024", ".")
    stack = list(container.layers)
    while stack:
        layer = stack.pop()
        if ir_name(layer) == want:
            return layer
        stack.extend(getattr(layer, "layers", None) or ())
    return None


def no_such_layer(container, name: str) -> ValueError:
    names, stack = [], list(container.layers)
    while stack:
        layer = stack.pop()
        names.append(ir_name(layer))
        stack.extend(getattr(layer, "layers", None) or ())
    close = difflib.get_close_matches(name, names, n=3)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return ValueError(f"No such layer: {name!r} in '{container.name}'{hint}")


class _Lookup:
    """`get_layer(name)` on a stage or block, as on a Keras model."""

    def get_layer(self, name: str):
        layer = find_layer(self, name)
        if layer is None:
            raise no_such_layer(self, name)
        return layer


@keras.saving.register_keras_serializable(package=PACKAGE)
class Network(keras.Model):
    """The functional model `build` returns. Its stages and blocks are nested
    layers (see the module docstring); `get_layer` also finds every layer inside
    them by IR name (`model.get_layer("layer2.0.conv1")`), so layers can be
    frozen or inspected one by one as in a flat model."""

    def __init__(self, *args, output_names=None, **kwargs):
        super().__init__(*args, **kwargs)
        # Several outputs are named as the spec names them (`layer1`, `layer2.1.conv2`);
        # Keras would name each after the layer producing it, a stage for a block's output.
        self.resdsl_output_names = list(output_names) if output_names else None
        if output_names:
            self.output_names = list(output_names)

    def get_config(self):
        config = super().get_config()
        if self.resdsl_output_names:
            config["output_names"] = list(self.resdsl_output_names)
        return config

    def get_layer(self, name=None, index=None):
        if name is None or index is not None:
            return super().get_layer(name=name, index=index)
        layer = find_layer(self, name)
        if layer is None:
            raise no_such_layer(self, name)
        return layer


def _batch_shape(input_shape, ir_shape) -> tuple:
    """A tensor's Keras shape from its IR shape; height and width stay unknown
    where the input's are (a model that takes any input size)."""
    out = nhwc(ir_shape)[1:]
    if len(out) == 3 and None in tuple(input_shape)[1:3]:
        return (input_shape[0], None, None, out[-1])
    return (input_shape[0],) + out


@keras.saving.register_keras_serializable(package=PACKAGE)
class Block(_Lookup, L.Layer):
    """One residual block: its IR nodes as Keras layers, wired as in the IR. With
    `taps` (outputs of the network inside it) it returns [output, *taps]."""

    def __init__(self, nodes, input_name, output_name, taps=(), **kwargs):
        super().__init__(**kwargs)
        self.input_name, self.output_name = input_name, output_name
        shapes = {n["name"]: n["shape"] for n in nodes}
        # Plain data in a namespace: Keras and TensorFlow wrap every list, dict
        # and tuple assigned to a layer (recursively) to look for weights, and
        # wrapping the IR nodes and the wiring cost a few percent of the build.
        made = construct.untracked(make_layers, nodes, key=op_of)
        self.ir = SimpleNamespace(nodes=nodes, out_shape=shapes[output_name], taps=tuple(taps),
                                  tap_shapes=[shapes[t] for t in taps],
                                  program=[(n["name"], n["inputs"], ls) for n, ls in zip(nodes, made)])
        # A flat, tracked list so Keras saves and counts every weight.
        self.members = [layer for _, _, ls in self.ir.program for layer in ls]

    @property
    def layers(self):
        return list(self.members)

    def build(self, input_shape):
        # Build from the IR's shapes: no symbolic tracing, which is what keeps
        # deep networks fast to construct.
        shapes = {self.input_name: tuple(input_shape)}
        for name, inputs, layers in self.ir.program:
            s = [shapes[i] for i in inputs]
            s = s if len(s) > 1 else s[0]
            for layer in layers:
                if not layer.built:
                    build_layer(layer, s)
                s = layer.compute_output_shape(s)
            shapes[name] = tuple(s)

    @property
    def taps(self) -> tuple:
        return self.ir.taps

    def call(self, x):
        values = run(self.ir.program, {self.input_name: x})
        out = values[self.output_name]
        return [out, *(values[t] for t in self.ir.taps)] if self.ir.taps else out

    def main_shape(self, input_shape):
        return _batch_shape(input_shape, self.ir.out_shape)

    def tap_shapes(self, input_shape) -> list:
        return [_batch_shape(input_shape, s) for s in self.ir.tap_shapes]

    def compute_output_shape(self, input_shape):
        main = self.main_shape(input_shape)
        return [main, *self.tap_shapes(input_shape)] if self.ir.taps else main

    def get_config(self):
        return {**super().get_config(), **self.arguments()}

    def arguments(self) -> dict:
        taps = {"taps": list(self.ir.taps)} if self.ir.taps else {}
        return {"nodes": self.ir.nodes, "input_name": self.input_name, "output_name": self.output_name, **taps}


@keras.saving.register_keras_serializable(package=PACKAGE)
class Stage(_Lookup, L.Layer):
    """A stage: its blocks applied in sequence. Where blocks have taps (outputs of
    the network inside the stage) it returns [output, *their taps, in order]."""

    def __init__(self, blocks, **kwargs):
        super().__init__(**kwargs)
        self.blocks = [b if isinstance(b, Block) else Block(**b) for b in blocks]

    @property
    def layers(self):
        return list(self.blocks)

    def build(self, input_shape):
        s = tuple(input_shape)
        for b in self.blocks:
            if not b.built:
                build_layer(b, s)
            s = b.main_shape(s)

    def call(self, x):
        taps = []
        for b in self.blocks:
            if b.taps:
                x, *values = b(x)
                taps += values
            else:
                x = b(x)
        return [x, *taps] if taps else x

    def compute_output_shape(self, input_shape):
        main = self.blocks[-1].main_shape(input_shape)
        taps = [s for b in self.blocks for s in b.tap_shapes(input_shape)]
        return [main, *taps] if taps else main

    def get_config(self):
        blocks = [{"name": b.name, **b.arguments()} for b in self.blocks]
        return {**super().get_config(), "blocks": blocks}
