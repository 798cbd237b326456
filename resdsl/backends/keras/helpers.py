"""The Keras layers of the IR nodes that take a decision (a conv's padding, a
max-pool's -inf padding), and the small functions an emitted module calls for
them: `conv`, `max_pool` and `dense` make the layers and apply them to a
tensor or a block's wire (nesting.apply), with keras.initializers from
rules.KERNEL_INIT. `keras.emit` copies their text, with the rules and layers
they use, into a module that needs them. Plain keras only: the names imported
from this package below are copied along, never imported by an emitted module.
"""
import keras
from keras import layers

from .extra import ConstantPad2D, MaxPool2DCeil
from .nesting import apply
from .rules import KERNEL_INIT, bias_bound, conv_fan_in, conv_padding, pair, sides


def conv_layers(filters, kernel, stride, padding, name, use_bias, groups, kernel_initializer, bias_initializer,
                dilation=1, layer=None, **options):
    """PyTorch's Conv2d: Conv2D (or `layer`, a subclass taking `options`: DilatedConv2D,
    StdConv2D), after ZeroPadding2D `<name>_pad` where 'same' is not its padding."""
    mode, pad = conv_padding(kernel, stride, padding, dilation)
    made = (layer or layers.Conv2D)(filters, pair(kernel), strides=pair(stride), padding=mode, groups=groups,
                                    dilation_rate=pair(dilation), use_bias=use_bias,
                                    kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
                                    name=name, **options)
    return [made] if pad is None else [layers.ZeroPadding2D(pad, name=name + "_pad"), made]


def max_pool_layers(kernel, stride, padding, name):
    """PyTorch's MaxPool2d: padding with -inf (`<name>_pad`), which never wins the max, then a 'valid' pool."""
    pool = layers.MaxPooling2D(pair(kernel), pair(stride), padding="valid", name=name)
    return [ConstantPad2D(sides(padding), float("-inf"), name=name + "_pad"), pool] if any(sides(padding)) else [pool]


def initializers_for(init, fan_in):
    """(kernel, bias) initializers for the IR's `init` (see KERNEL_INIT)."""
    bound = bias_bound(init, fan_in)
    bias = "zeros" if bound is None else keras.initializers.RandomUniform(-bound, bound)
    return keras.initializers.VarianceScaling(*KERNEL_INIT[init]), bias


def conv(x, filters, kernel, stride, padding, name, use_bias=False, groups=1, init="glorot_uniform", **options):
    """`options`: conv_layers' dilation, layer class and the class's own keywords."""
    kernel_init, bias_init = initializers_for(init, conv_fan_in(kernel, x.shape[-1], groups))
    for layer in conv_layers(filters, kernel, stride, padding, name, use_bias, groups, kernel_init, bias_init,
                             **options):
        x = apply(layer, x)
    return x


def max_pool(x, kernel, stride, padding, name):
    for layer in max_pool_layers(kernel, stride, padding, name):
        x = apply(layer, x)
    return x


def max_pool_ceil(x, kernel, stride, padding, name):
    """MaxPool2d with ceil_mode: one layer that pads as far as PyTorch's last, partial window reaches."""
    return apply(MaxPool2DCeil(pair(kernel), pair(stride), sides(padding), name=name), x)


def dense(x, units, name, activation="linear", use_bias=True, init="glorot_uniform"):
    kernel_init, bias_init = initializers_for(init, x.shape[-1])
    return apply(layers.Dense(units, activation=activation, use_bias=use_bias, kernel_initializer=kernel_init,
                              bias_initializer=bias_init, name=name), x)
