"""How an IR node becomes Keras layers: the decisions both halves of the Keras
backend make, written once. `keras.layers.make_layers` (build) calls these;
`keras.emit` writes the same calls into emitted source and copies the text of
each definition the module uses, so an emitted module decides as `build` does.

Plain Python with no imports and no framework: every definition here must run
unchanged inside an emitted module.
"""

# IR init -> keras.initializers.VarianceScaling(scale, mode, distribution).
# PyTorch's default kaiming_uniform(a=sqrt(5)) is a uniform limit of sqrt(1/fan_in): scale 1/3.
# glorot_uniform and glorot_normal are Keras' GlorotUniform and GlorotNormal.
KERNEL_INIT = {
    "torch_default": (1 / 3, "fan_in", "uniform"),
    "kaiming_normal_fan_out": (2.0, "fan_out", "untruncated_normal"),
    "kaiming_normal_fan_in": (2.0, "fan_in", "untruncated_normal"),
    "glorot_uniform": (1.0, "fan_avg", "uniform"),
    "glorot_normal": (1.0, "fan_avg", "truncated_normal"),
}

# IR op -> (Keras layer, arguments) for the ops that map onto one layer without
# a decision. Positional arguments name IR attributes (or are constants); keyword
# arguments map a Keras keyword to (IR attribute,) or (IR attribute, default), and
# emitted code leaves out a keyword whose value is its default.
LAYERS = {
    "act": ("Activation", ("fn",), {}),
    "add": ("Add", (), {}),
    "multiply": ("Multiply", (), {}),  # broadcasts a (1, 1, C) gate over the map
    "flatten": ("Flatten", (), {}),
    "identity": ("Identity", (), {}),
    "dropout": ("Dropout", ("rate",), {}),
    "drop_path": ("DropPath", ("rate",), {}),
    "global_avgpool": ("GlobalAveragePooling2D", (), {"keepdims": ("keepdims", False)}),
    "global_maxpool": ("GlobalMaxPooling2D", (), {"keepdims": ("keepdims", False)}),
    "global_avgmaxpool": ("GlobalAvgMaxPool", (), {"keepdims": ("keepdims", False)}),
    "channel_conv": ("ChannelConv", ("kernel",), {"bias": ("bias", False)}),
    "channel_pad": ("ChannelPad", ("before", "after"), {}),
    "split": ("ChannelSplit", ("index",), {"parts": ("parts", 0), "sizes": ("sizes", ())}),
    "concat": ("Concatenate", (), {}),  # along the last axis: the channels
    "softmax": ("AxisSoftmax", ("axis",), {"paths": ("paths", 1), "groups": ("groups", 1)}),
    "blur_pool": ("BlurPool2D", (), {"kernel": ("kernel", 3), "stride": ("stride", 2),
                                     "padding": ("padding", (1, 1, 1, 1)), "pad_mode": ("pad_mode", "reflect")}),
    "attention_pool": ("AttentionPool", (), {}),  # called on [features, weights]
    # A 1x1 max-pool with stride s is exactly x[:, ::s, ::s] (keras.applications' V2 shortcut).
    "subsample": ("MaxPooling2D", (1,), {"strides": ("stride",)}),
    "avgpool": ("AveragePooling2D", ("kernel", "stride"), {}),
    # PyTorch's AvgPool2d with padding or ceil_mode, which AveragePooling2D cannot express.
    "avgpool_padded": ("AvgPool2DPad", ("kernel", "stride", "padding"),
                       {"ceil_mode": ("ceil_mode", False), "count_include_pad": ("count_include_pad", True)}),
}


def pair(v):
    """(height, width) from one int or a pair."""
    return (v, v) if isinstance(v, int) else tuple(v)


def sides(padding):
    """(top, bottom, left, right) from one int or four."""
    return (padding,) * 4 if isinstance(padding, int) else tuple(padding)


def pad_pairs(padding):
    """PyTorch's (top, bottom, left, right) as Keras' ((top, bottom), (left, right))."""
    top, bottom, left, right = sides(padding)
    return (top, bottom), (left, right)


def conv_padding(kernel, stride, padding, dilation=1):
    """(Keras padding mode, zero padding to apply first or None) for a conv with
    PyTorch's explicit padding. 'same' only where it is the same padding: stride 1
    and k // 2 on every side (at stride 2 TensorFlow pads after, not around), k the
    window a dilated kernel spans."""
    (kh, kw), (sh, sw), p = pair(kernel), pair(stride), sides(padding)
    (dh, dw) = pair(dilation)
    kh, kw = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    if not any(p):
        return "valid", None
    if (sh, sw) == (1, 1) and kh % 2 == kw % 2 == 1 and p == (kh // 2, kh // 2, kw // 2, kw // 2):
        return "same", None
    return "valid", pad_pairs(p)


def conv_fan_in(kernel, in_channels, groups=1):
    kh, kw = pair(kernel)
    return kh * kw * in_channels // groups


def bias_bound(init, fan_in):
    """PyTorch draws biases from U(-1/sqrt(fan_in), 1/sqrt(fan_in)); the other inits start them at zero (None)."""
    return fan_in ** -0.5 if init == "torch_default" else None


def keras_momentum(momentum):
    """Keras' BatchNormalization momentum weighs the running average; the IR's (PyTorch's) weighs the batch."""
    return round(1.0 - momentum, 12)


def avg_pool_padded(padding, ceil_mode):
    """Whether an average pool needs AvgPool2DPad: Keras' 'valid' pool has no padding and no ceil_mode."""
    return any(sides(padding)) or bool(ceil_mode)
