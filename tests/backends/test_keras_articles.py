"""The article networks, as the articles write them in Keras (re-implemented
here from ../shared/seeds), against resdsl's specs of them: the same layers in
the same order with the same key hyper-parameters, and the same weight count.

- 000 "Building a ResNet in Keras": relu_bn = ReLU then BatchNormalization;
  residual_block with 'same' 3x3 convs (with bias) and a 1x1 stride-2 conv
  shortcut without BN when downsampling; 2, 5, 5, 2 blocks of 64..512 filters;
  AveragePooling2D(4), Flatten, Dense(10, softmax). The seed lost the article's
  create_res_net listing; this follows the seeds README (conv then relu_bn, no
  BatchNormalization on the raw input). The plain twin drops the shortcuts.
- 002 ResNet-50 for SIGNS (64x64x3, 6 classes): identity_block /
  convolutional_block (stride on the first 1x1), stage 5 with [512, 512, 2048]
  (the article's last listing has a typo, 2048 for 1024 — see the seeds README).
"""
from __future__ import annotations

import pytest

keras = pytest.importorskip("keras")
from keras import layers as keras_layers

import resdsl
from resdsl.backends.keras import layer_map
from resdsl.ir.ops import same_padding


class _Recorder:
    """Stands in for `keras.layers` in the article code and remembers every layer
    in the order the code creates it: the articles' own order (Keras' functional
    sort may move a shortcut conv ahead of the main path)."""

    def __init__(self):
        self.made = []

    def __getattr__(self, name):
        cls = getattr(keras_layers, name)

        def make(*args, **kwargs):
            self.made.append(cls(*args, **kwargs))
            return self.made[-1]
        return make

    def add(self, xs):  # the articles' `layers.add([...])`
        return self.Add()(xs)


layers = _Recorder()


def relu_bn(x):
    relu = layers.ReLU()(x)
    return layers.BatchNormalization()(relu)


def residual_block(x, downsample: bool, filters: int, kernel_size: int = 3, skip: bool = True):
    y = layers.Conv2D(kernel_size=kernel_size, strides=2 if downsample else 1, filters=filters, padding="same")(x)
    y = relu_bn(y)
    y = layers.Conv2D(kernel_size=kernel_size, strides=1, filters=filters, padding="same")(y)
    if not skip:
        return relu_bn(y)
    if downsample:
        x = layers.Conv2D(kernel_size=1, strides=2, filters=filters, padding="same")(x)
    out = layers.Add()([x, y])
    return relu_bn(out)


def article_000(skip: bool):
    inputs = keras.Input((32, 32, 3))
    t = layers.Conv2D(kernel_size=3, strides=1, filters=64, padding="same")(inputs)
    t = relu_bn(t)
    filters = 64
    for i, n in enumerate([2, 5, 5, 2]):
        for j in range(n):
            t = residual_block(t, downsample=(j == 0 and i != 0), filters=filters, skip=skip)
        filters *= 2
    t = layers.AveragePooling2D(4)(t)
    t = layers.Flatten()(t)
    outputs = layers.Dense(10, activation="softmax")(t)
    return keras.Model(inputs, outputs)


def main_path(x, f, filters, s):
    """The three conv-BN(-ReLU) layers both of the article's blocks start with;
    the convolutional block puts its stride s on the first 1x1."""
    f1, f2, f3 = filters
    x = layers.Conv2D(f1, (1, 1), strides=(s, s), padding="valid", kernel_initializer="glorot_uniform")(x)
    x = layers.BatchNormalization(axis=3)(x)
    x = layers.Activation("relu")(x)
    x = layers.Conv2D(f2, (f, f), strides=(1, 1), padding="same", kernel_initializer="glorot_uniform")(x)
    x = layers.BatchNormalization(axis=3)(x)
    x = layers.Activation("relu")(x)
    x = layers.Conv2D(f3, (1, 1), strides=(1, 1), padding="valid", kernel_initializer="glorot_uniform")(x)
    return layers.BatchNormalization(axis=3)(x)


def identity_block(x, f, filters):
    shortcut = x
    x = main_path(x, f, filters, 1)
    x = layers.add([x, shortcut])
    return layers.Activation("relu")(x)


def convolutional_block(x, f, filters, s=2):
    shortcut = x
    x = main_path(x, f, filters, s)
    shortcut = layers.Conv2D(filters[2], (1, 1), strides=(s, s), padding="valid",
                             kernel_initializer="glorot_uniform")(shortcut)
    shortcut = layers.BatchNormalization(axis=3)(shortcut)
    x = layers.add([x, shortcut])
    return layers.Activation("relu")(x)


def article_002():
    inputs = keras.Input((64, 64, 3))
    x = layers.ZeroPadding2D((3, 3))(inputs)
    x = layers.Conv2D(64, (7, 7), strides=(2, 2), kernel_initializer="glorot_uniform")(x)
    x = layers.BatchNormalization(axis=3)(x)
    x = layers.Activation("relu")(x)
    x = layers.MaxPooling2D((3, 3), strides=(2, 2))(x)
    for filters, n, s in (([64, 64, 256], 3, 1), ([128, 128, 512], 4, 2), ([256, 256, 1024], 6, 2),
                          ([512, 512, 2048], 3, 2)):
        x = convolutional_block(x, 3, filters, s=s)
        for _ in range(n - 1):
            x = identity_block(x, 3, filters)
    x = layers.AveragePooling2D((2, 2), padding="same")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(6, activation="softmax")(x)
    return keras.Model(inputs, x)


def _pads(layer, padding_layer=None) -> tuple:
    """Effective (top, bottom, left, right) padding of a conv or pool."""
    if padding_layer is not None:
        (t, b), (left, r) = padding_layer.padding
        return (t, b, left, r)
    if layer.padding == "valid":
        return (0, 0, 0, 0)
    k, s = layer.kernel_size, layer.strides
    if not layer._inbound_nodes:  # resdsl's nested layers: 'same' only at stride 1, odd kernels
        assert s == (1, 1) and k[0] % 2 and k[1] % 2
        return (k[0] // 2, k[0] // 2, k[1] // 2, k[1] // 2)
    h, w = layer.input.shape[1:3]
    return same_padding(h, k[0], s[0]) + same_padding(w, k[1], s[1])


def signature(seq) -> list[tuple]:
    """(type, key hyper-parameters) of each layer; a ZeroPadding2D that only
    supplies a conv's padding (resdsl's `<name>_pad`) folds into that conv."""
    out = []
    items = list(seq)
    for i, layer in enumerate(items):
        if layer.name.endswith("_pad") and i + 1 < len(items) and items[i + 1].name + "_pad" == layer.name:
            continue
        prev = items[i - 1] if i and items[i - 1].name == layer.name + "_pad" else None
        if isinstance(layer, keras_layers.Conv2D):
            out.append(("conv", layer.filters, tuple(layer.kernel_size), tuple(layer.strides), _pads(layer, prev),
                        layer.use_bias))
        elif isinstance(layer, keras_layers.BatchNormalization):
            out.append(("bn", layer.epsilon, round(layer.momentum, 6)))
        elif isinstance(layer, (keras_layers.ReLU, keras_layers.Activation)):
            out.append(("relu",))
        elif isinstance(layer, keras_layers.MaxPooling2D):
            out.append(("maxpool", tuple(layer.pool_size), tuple(layer.strides)))
        elif isinstance(layer, keras_layers.AveragePooling2D):
            out.append(("avgpool", tuple(layer.pool_size), tuple(layer.strides)))
        elif isinstance(layer, keras_layers.Dense):
            out.append(("dense", layer.units, layer.activation.__name__))
        elif isinstance(layer, keras_layers.ZeroPadding2D):
            out.append(("zeropad", tuple(map(tuple, layer.padding))))
        elif not isinstance(layer, keras_layers.InputLayer):
            out.append((type(layer).__name__.lower(),))
    return out


def ours_in_order(name: str):
    """resdsl's leaf layers in execution order (IR order; padding layers first)."""
    r = resdsl.resolve(name)
    model = resdsl.build(name, backend="keras")
    by_name = layer_map(model)
    seq = [by_name[x] for n in r.order() for x in (f"{n}_pad", n) if x in by_name]
    return model, seq


@pytest.mark.parametrize("spec, make", [("cifar10_resnet30", lambda: article_000(skip=True)),
                                        ("cifar10_plain30", lambda: article_000(skip=False)),
                                        ("signs_resnet50", article_002)])
def test_same_layers_and_counts_as_the_article(spec, make):
    layers.made.clear()
    article = make()
    ours, seq = ours_in_order(spec)
    assert ours.count_params() == article.count_params()
    want, got = signature(layers.made), signature(seq)
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want)):
        assert g == w, f"layer {i}: resdsl has {g}, the article {w}"
