"""How an emitted Keras module nests a deep network: each residual block is one
`Block` layer holding the block's layers, each stage one `Stage` layer holding
its blocks, and the model a `Network` whose functional graph has one node per
stem layer, stage and head layer.

Why: Keras' functional API walks its graph recursively (while wiring and again
while saving), so a flat cifar_resnet1202 (~4,800 layers) exceeds Python's
default recursion limit, and wiring each layer symbolically costs more than
building it. A block function of an emitted module is functional Keras code whose
layers are applied with `apply(layer, x)`: on Keras tensors that is `layer(x)`;
inside `Block.of` the values are `Wire`s, and `apply` records each layer and
what it reads instead. The block then builds its layers from shapes, with no
symbolic tracing, and calls them in order on real tensors.

Leaf layers keep the IR's names (`layer2.0.conv1`); `Network.get_layer` finds
them through the nesting, and `model.summary(expand_nested=True)` shows them.
A block's saved config lists its layers' own configs and the wiring, so a saved
model loads with these classes alone (registered under the package "resdsl").
Plain keras only: `keras.emit` copies this text into emitted modules.
"""
import difflib

import keras
from keras import layers


def named(name):
    """Layer names are resdsl's structural names (`layer2.0.conv1`). Keras on PyTorch
    registers weights as torch parameters, which refuse dots: there a look-alike
    dot (U+2024) stands in."""
    return name.replace(".", "\u2024") if keras.backend.backend() == "torch" else name


def ir_name(layer):
    """A layer's IR name (the look-alike dot of `named` reads as a dot)."""
    return layer.name.replace("\u2024", ".")


class Wire:
    """A value inside a block being made (Block.of): the block's layers so far,
    each with what it reads, the value's index (0 the block's input, i the
    output of its i-th layer) and its shape."""

    def __init__(self, made, index, shape):
        self.made, self.index, self.shape = made, index, tuple(shape)


def apply(layer, x):
    """`layer(x)`, the functional call, for Keras tensors; for a block's wires (x a
    Wire or a list of them) the layer becomes the next layer of that block."""
    many = isinstance(x, (list, tuple))
    first = x[0] if many else x
    if not isinstance(first, Wire):
        return layer(x)
    first.made.append((layer, [w.index for w in x] if many else x.index))
    shape = layer.compute_output_shape([w.shape for w in x] if many else x.shape)
    return Wire(first.made, len(first.made), shape)


class Wiring:
    """What each layer of a block reads (a value index, or a list of them for a
    layer that takes a list: Add, Multiply), which value the block returns and
    which it also returns as taps. A plain object, not a list, so that Keras'
    attribute tracking leaves it alone."""

    def __init__(self, steps, output, taps):
        self.steps = [s if isinstance(s, int) else list(s) for s in steps]
        self.output, self.taps = output, list(taps)

    def run(self, members, x, each):
        """The block's values for input x: `each(layer, inputs)` gives a layer's output."""
        values = [x]
        for layer, step in zip(members, self.steps, strict=True):
            values.append(each(layer, values[step] if isinstance(step, int) else [values[i] for i in step]))
        return values


def no_such_layer(container, name):
    names, stack = [], list(container.layers)
    while stack:
        layer = stack.pop()
        names.append(ir_name(layer))
        stack.extend(getattr(layer, "layers", None) or ())
    close = difflib.get_close_matches(name, names, n=3)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return ValueError(f"No such layer: {name!r} in '{container.name}'{hint}")


def find_layer(container, name):
    """The layer named `name` (an IR name) anywhere inside `container`; ValueError if none."""
    want = name.replace("\u2024", ".")
    stack = list(container.layers)
    while stack:
        layer = stack.pop()
        if ir_name(layer) == want:
            return layer
        stack.extend(getattr(layer, "layers", None) or ())
    raise no_such_layer(container, name)


def deserialized(items):
    """Layers, from their saved configs where they are configs."""
    return [x if isinstance(x, layers.Layer) else keras.saving.deserialize_keras_object(x) for x in items]


@keras.saving.register_keras_serializable(package="resdsl")
class Block(layers.Layer):
    """One residual block: its layers (`members`), run as `steps` say (see Wiring).
    With `taps` (values the network also returns) it returns [output, *taps]."""

    def __init__(self, members, steps, output, taps=(), **kwargs):
        super().__init__(**kwargs)
        self.members = deserialized(members)
        self.wiring = Wiring(steps, output, taps)

    @classmethod
    def of(cls, function, name, input_shape, wanted=(), **arguments):
        """The block that `function(x, name, **arguments)` describes, for inputs of
        `input_shape`; its layers named in `wanted` become its taps."""
        made = []
        output = function(Wire(made, 0, input_shape), name, **arguments)
        names = [layer.name for layer, _ in made]
        taps = [names.index(named(n)) + 1 for n in wanted if named(n) in names]
        return cls([layer for layer, _ in made], [step for _, step in made], output.index, taps, name=named(name))

    @property
    def layers(self):
        return list(self.members)

    def get_layer(self, name):
        return find_layer(self, name)

    def build(self, input_shape):
        # From shapes, layer by layer: no symbolic tracing.
        def build(layer, shape):
            if not layer.built:
                layer.build(shape)
            return tuple(layer.compute_output_shape(shape))
        self.wiring.run(self.members, tuple(input_shape), build)

    def call(self, x):
        values = self.wiring.run(self.members, x, lambda layer, y: layer(y))
        out = values[self.wiring.output]
        return [out, *(values[t] for t in self.wiring.taps)] if self.wiring.taps else out

    def compute_output_shape(self, input_shape):
        shapes = self.wiring.run(self.members, tuple(input_shape), lambda layer, s: layer.compute_output_shape(s))
        out = tuple(shapes[self.wiring.output])
        return [out, *(tuple(shapes[t]) for t in self.wiring.taps)] if self.wiring.taps else out

    def tap_names(self):
        return [ir_name(self.members[t - 1]) for t in self.wiring.taps]

    def get_config(self):
        return {**super().get_config(), "members": [keras.saving.serialize_keras_object(m) for m in self.members],
                "steps": self.wiring.steps, "output": self.wiring.output, "taps": self.wiring.taps}


@keras.saving.register_keras_serializable(package="resdsl")
class Stage(layers.Layer):
    """A stage: its blocks applied in sequence. Where blocks have taps it returns
    [output, *their values, in order]."""

    def __init__(self, blocks, **kwargs):
        super().__init__(**kwargs)
        self.blocks = deserialized(blocks)

    @property
    def layers(self):
        return list(self.blocks)

    def get_layer(self, name):
        return find_layer(self, name)

    def build(self, input_shape):
        shape = tuple(input_shape)
        for block in self.blocks:
            if not block.built:
                block.build(shape)
            shape = self.main(block.compute_output_shape(shape), block)

    @staticmethod
    def main(value, block):
        return value[0] if block.wiring.taps else value

    def call(self, x):
        taps = []
        for block in self.blocks:
            x = block(x)
            if block.wiring.taps:
                x, *values = x
                taps += values
        return [x, *taps] if taps else x

    def compute_output_shape(self, input_shape):
        shape, taps = tuple(input_shape), []
        for block in self.blocks:
            out = block.compute_output_shape(shape)
            shape = self.main(out, block)
            taps += out[1:] if block.wiring.taps else []
        return [shape, *taps] if taps else shape

    def get_config(self):
        return {**super().get_config(), "blocks": [keras.saving.serialize_keras_object(b) for b in self.blocks]}


def stage(x, name, runs, found=None):
    """The stage `name` applied to x: a Stage of one Block per block of `runs`
    ((block function, how many, arguments), as STAGES lists them), named
    `<name>.<index>`. The values of layers named in `found` (a dict) go into it."""
    blocks, shape, wanted = [], tuple(x.shape), list(found or ())
    for function, repeat, arguments in runs:
        for _ in range(repeat):
            block = Block.of(function, f"{name}.{len(blocks)}", shape, wanted, **arguments)
            blocks.append(block)
            shape = Stage.main(block.compute_output_shape(shape), block)
    y = Stage(blocks, name=named(name))(x)
    taps = [n for b in blocks for n in b.tap_names()]
    if taps:
        y, *values = y
        found.update(zip(taps, values, strict=True))
    return y


@keras.saving.register_keras_serializable(package="resdsl")
class Network(keras.Model):
    """The functional model: stem and head layers and Stage layers. `get_layer`
    also finds every layer inside the stages by IR name
    (`model.get_layer("layer2.0.conv1")`), so layers can be frozen or inspected
    one by one as in a flat model. Several outputs are named as the spec names
    them (Keras would name each after the layer giving it, a Stage for a
    block's value)."""

    def __init__(self, *args, output_names=None, **kwargs):
        super().__init__(*args, **kwargs)
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
        return find_layer(self, name)
