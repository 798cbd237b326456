"""Keras layers for what Keras has no layer for: `keras.emit` copies a class's
text from this file into an emitted module that uses it (which `build` runs),
and each registers itself for saving under the package "resdsl" (saved files
name them "resdsl>ChannelPad"; keep the class names). Plain keras only
(`layers`, `ops`, numpy): no resdsl import.
"""
import keras
import numpy as np
from keras import layers, ops, random


@keras.saving.register_keras_serializable(package="resdsl")
class ConstantPad2D(layers.Layer):
    """Pads height and width by (top, bottom, left, right) with a constant; with
    -inf before a max-pool, padding never wins the max (PyTorch's max-pool
    padding, which zero padding gets wrong after a negative activation)."""

    def __init__(self, padding, value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.padding = tuple(int(p) for p in padding)
        self.value = float(value)

    def call(self, x):
        top, bottom, left, right = self.padding
        return ops.pad(x, [[0, 0], [top, bottom], [left, right], [0, 0]], constant_values=self.value)

    def compute_output_shape(self, s):
        top, bottom, left, right = self.padding

        def grow(d, n):
            return None if d is None else d + n
        return (s[0], grow(s[1], top + bottom), grow(s[2], left + right), s[3])

    def get_config(self):
        # JSON has no -inf; a string keeps saved configs portable (float() reads it back).
        value = str(self.value) if self.value in (float("inf"), float("-inf")) else self.value
        return {**super().get_config(), "padding": list(self.padding), "value": value}


@keras.saving.register_keras_serializable(package="resdsl")
class ChannelPad(layers.Layer):
    """Adds `before` and `after` zero channels: the parameter-free option-A
    shortcut of He et al. (2016)."""

    def __init__(self, before, after, **kwargs):
        super().__init__(**kwargs)
        self.before, self.after = int(before), int(after)

    def call(self, x):
        # Zero channels joined on, not ops.pad: TensorFlow 2.21's oneDNN graph
        # rewrite crashes (segfault in predict/fit) on a biased conv added to a
        # channel-padded tensor, which a pre-activation block with option A makes.
        zero = ops.zeros_like(x[..., :1])
        parts = [ops.repeat(zero, n, axis=-1) for n in (self.before,) if n] + [x]
        parts += [ops.repeat(zero, n, axis=-1) for n in (self.after,) if n]
        return ops.concatenate(parts, axis=-1) if len(parts) > 1 else x

    def compute_output_shape(self, s):
        return (*s[:3], None if s[3] is None else s[3] + self.before + self.after)

    def get_config(self):
        return {**super().get_config(), "before": self.before, "after": self.after}


def window_count(size, kernel, stride, before, after, ceil_mode):
    """Output length of a pooling window (PyTorch's rule for ceil_mode: a last
    window starting past the input and the padding before it is dropped)."""
    span = size + before + after - kernel
    if not ceil_mode:
        return span // stride + 1
    out = -(-span // stride) + 1
    return out - 1 if (out - 1) * stride >= size + before else out


@keras.saving.register_keras_serializable(package="resdsl")
class AvgPool2DPad(layers.Layer):
    """PyTorch's AvgPool2d: explicit (top, bottom, left, right) zero padding,
    `ceil_mode` and `count_include_pad`. The window sums come from one valid
    average pool over the padded map; each output is divided by the number of
    cells PyTorch counts there (padding included or not, never the part of a
    ceil-mode window past the padding), fixed once the input size is known."""

    def __init__(self, kernel, stride, padding, ceil_mode=False, count_include_pad=True, **kwargs):
        super().__init__(**kwargs)
        self.kernel, self.stride = tuple(int(k) for k in kernel), tuple(int(s) for s in stride)
        self.padding = tuple(int(p) for p in padding)
        self.ceil_mode, self.count_include_pad = bool(ceil_mode), bool(count_include_pad)

    def _axis(self, size, i):
        k, s = self.kernel[i], self.stride[i]
        before, after = self.padding[2 * i], self.padding[2 * i + 1]
        n = window_count(size, k, s, before, after, self.ceil_mode)
        starts = np.arange(n) * s
        lo, hi = (0, size + before + after) if self.count_include_pad else (before, before + size)
        counts = np.minimum(starts + k, hi) - np.maximum(starts, lo)
        overhang = max(0, starts[-1] + k - (size + before + after))
        return n, counts.astype("float32"), after + overhang

    def build(self, input_shape):
        h, w = input_shape[1], input_shape[2]
        _, rows, self.pad_bottom = self._axis(h, 0)
        _, cols, self.pad_right = self._axis(w, 1)
        self.scale = (self.kernel[0] * self.kernel[1] / np.outer(rows, cols))[None, :, :, None].astype("float32")

    def call(self, x):
        top, _, left, _ = self.padding
        x = ops.pad(x, [[0, 0], [top, self.pad_bottom], [left, self.pad_right], [0, 0]])
        return ops.average_pool(x, self.kernel, self.stride, padding="valid") * self.scale

    def compute_output_shape(self, s):
        def out(size, i):
            if size is None:
                return None
            return window_count(size, self.kernel[i], self.stride[i], self.padding[2 * i],
                                self.padding[2 * i + 1], self.ceil_mode)
        return (s[0], out(s[1], 0), out(s[2], 1), s[3])

    def get_config(self):
        return {**super().get_config(), "kernel": list(self.kernel), "stride": list(self.stride),
                "padding": list(self.padding), "ceil_mode": self.ceil_mode,
                "count_include_pad": self.count_include_pad}


@keras.saving.register_keras_serializable(package="resdsl")
class MaxPool2DCeil(layers.Layer):
    """PyTorch's MaxPool2d with `ceil_mode`: -inf padding (top, bottom, left, right),
    the bottom and right grown so far as PyTorch's last, partial window reaches
    (fixed once the input size is known), then a valid max-pool."""

    def __init__(self, kernel, stride, padding, **kwargs):
        super().__init__(**kwargs)
        self.kernel, self.stride = tuple(int(k) for k in kernel), tuple(int(s) for s in stride)
        self.padding = tuple(int(p) for p in padding)

    def _after(self, size, i):
        k, s, before, after = self.kernel[i], self.stride[i], self.padding[2 * i], self.padding[2 * i + 1]
        n = window_count(size, k, s, before, after, True)
        return max(after, (n - 1) * s + k - size - before)

    def build(self, input_shape):
        self.pad_bottom, self.pad_right = self._after(input_shape[1], 0), self._after(input_shape[2], 1)

    def call(self, x):
        top, _, left, _ = self.padding
        x = ops.pad(x, [[0, 0], [top, self.pad_bottom], [left, self.pad_right], [0, 0]],
                    constant_values=float("-inf"))
        return ops.max_pool(x, self.kernel, self.stride, padding="valid")

    def compute_output_shape(self, s):
        def out(size, i):
            return None if size is None else window_count(size, self.kernel[i], self.stride[i], self.padding[2 * i],
                                                          self.padding[2 * i + 1], True)
        return (s[0], out(s[1], 0), out(s[2], 1), s[3])

    def get_config(self):
        return {**super().get_config(), "kernel": list(self.kernel), "stride": list(self.stride),
                "padding": list(self.padding)}


@keras.saving.register_keras_serializable(package="resdsl")
class GlobalAvgMaxPool(layers.Layer):
    """(mean + max) / 2 over height and width: timm's 'avgmax' global pool."""

    def __init__(self, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.keepdims = bool(keepdims)

    def call(self, x):
        keep = self.keepdims
        return 0.5 * (ops.mean(x, axis=(1, 2), keepdims=keep) + ops.max(x, axis=(1, 2), keepdims=keep))

    def compute_output_shape(self, s):
        return (s[0], 1, 1, s[3]) if self.keepdims else (s[0], s[3])

    def get_config(self):
        return {**super().get_config(), "keepdims": self.keepdims}


@keras.saving.register_keras_serializable(package="resdsl")
class ChannelConv(layers.Conv1D):
    """A 1-D conv sliding across the channels of a pooled tensor (ECA): Conv1D
    over a length-C sequence with one feature, kernel (k, 1, 1)."""

    def __init__(self, kernel, bias=False, **kwargs):
        super().__init__(1, int(kernel), padding="same", use_bias=bool(bias), **kwargs)
        self.kernel_len, self.bias_on = int(kernel), bool(bias)

    def build(self, input_shape):
        super().build((None, input_shape[-1], 1))
        self.input_spec = None  # Conv1D's spec is for the (N, C, 1) view, not what this layer is given

    def call(self, x):
        y = super().call(ops.reshape(x, (-1, x.shape[-1], 1)))
        return ops.reshape(y, (-1, *x.shape[1:]))

    def compute_output_shape(self, s):
        return tuple(s)

    def get_config(self):
        return {**layers.Layer.get_config(self), "kernel": self.kernel_len, "bias": self.bias_on}


@keras.saving.register_keras_serializable(package="resdsl")
class DropPath(layers.Layer):
    """Stochastic depth: in training, zero a sample's whole residual branch with
    probability `rate` and scale the kept ones by 1 / (1 - rate); identity otherwise."""

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = float(rate)
        self.seed_generator = random.SeedGenerator(seed)

    def call(self, x, training=False):
        if not training or self.rate == 0:
            return x
        keep = 1.0 - self.rate
        shape = (ops.shape(x)[0],) + (1,) * (len(x.shape) - 1)
        mask = ops.floor(keep + random.uniform(shape, seed=self.seed_generator))
        return x * mask / keep

    def compute_output_shape(self, s):
        return tuple(s)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate}


@keras.saving.register_keras_serializable(package="resdsl")
class ChannelSplit(layers.Layer):
    """Part `index` of the channels split into `parts` equal parts, or into parts of
    the given `sizes` (which add up to the channels)."""

    def __init__(self, index, parts=0, sizes=(), **kwargs):
        super().__init__(**kwargs)
        self.index, self.parts, self.sizes = int(index), int(parts), tuple(int(s) for s in sizes)

    def _span(self, channels):
        if self.parts:
            size = channels // self.parts
            return self.index * size, size
        return sum(self.sizes[:self.index]), self.sizes[self.index]

    def call(self, x):
        start, size = self._span(x.shape[-1])
        return x[..., start:start + size]

    def compute_output_shape(self, s):
        return (*s[:-1], self._span(s[-1])[1])

    def get_config(self):
        return {**super().get_config(), "index": self.index, "parts": self.parts, "sizes": list(self.sizes)}


@keras.saving.register_keras_serializable(package="resdsl")
class AxisSoftmax(layers.Layer):
    """Softmax along the channels at each position ("channels"), over the positions of
    each channel ("spatial"), or across `paths` parts of the channels ("paths"): the
    channels seen as (groups, paths, rest), normalised across the paths and laid out
    path by path (timm's radix softmax)."""

    def __init__(self, axis, paths=1, groups=1, **kwargs):
        super().__init__(**kwargs)
        self.axis, self.paths, self.groups = str(axis), int(paths), int(groups)

    def call(self, x):
        if self.axis == "channels":
            return ops.softmax(x, axis=-1)
        if self.axis == "spatial":
            flat = ops.reshape(x, (-1, x.shape[1] * x.shape[2], x.shape[-1]))
            return ops.reshape(ops.softmax(flat, axis=1), (-1, *x.shape[1:]))
        rest = x.shape[-1] // (self.groups * self.paths)
        y = ops.reshape(x, (-1, self.groups, self.paths, rest))
        y = ops.transpose(ops.softmax(y, axis=2), (0, 2, 1, 3))
        return ops.reshape(y, (-1, *x.shape[1:]))

    def compute_output_shape(self, s):
        return tuple(s)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "paths": self.paths, "groups": self.groups}


def binomial_filter(kernel):
    """The (kernel, kernel) blur: the outer product of the normalised binomial row."""
    row = np.array([1.0])
    for _ in range(kernel - 1):
        row = np.concatenate([row, [0.0]]) + np.concatenate([[0.0], row])
    row = row / row.sum()
    return np.outer(row, row).astype("float32")


@keras.saving.register_keras_serializable(package="resdsl")
class BlurPool2D(layers.Layer):
    """Anti-aliased downsampling (Zhang 2019; timm's BlurPool2d): each channel blurred
    by a fixed binomial filter after (top, bottom, left, right) padding, reflected or
    zeros, then every `stride`-th pixel. The filter is a constant, not a weight."""

    def __init__(self, kernel=3, stride=2, padding=(1, 1, 1, 1), pad_mode="reflect", **kwargs):
        super().__init__(**kwargs)
        self.kernel, self.stride = int(kernel), int(stride)
        self.padding, self.pad_mode = tuple(int(p) for p in padding), str(pad_mode)

    def call(self, x):
        top, bottom, left, right = self.padding
        mode = "reflect" if self.pad_mode == "reflect" else "constant"
        x = ops.pad(x, [[0, 0], [top, bottom], [left, right], [0, 0]], mode=mode)
        filt = np.tile(binomial_filter(self.kernel)[:, :, None, None], (1, 1, x.shape[-1], 1))
        return ops.depthwise_conv(x, ops.convert_to_tensor(filt, dtype=x.dtype), self.stride, padding="valid")

    def compute_output_shape(self, s):
        top, bottom, left, right = self.padding

        def out(size, before, after):
            return None if size is None else (size + before + after - self.kernel) // self.stride + 1
        return (s[0], out(s[1], top, bottom), out(s[2], left, right), s[3])

    def get_config(self):
        return {**super().get_config(), "kernel": self.kernel, "stride": self.stride,
                "padding": list(self.padding), "pad_mode": self.pad_mode}


@keras.saving.register_keras_serializable(package="resdsl")
class AttentionPool(layers.Layer):
    """Features (N, H, W, C) pooled by weights (N, H, W, h) over the positions: each
    channel's weighted sum, (N, 1, 1, C), each group of C / h channels by its own map
    (a global-context block's context). Called on [features, weights]."""

    def call(self, inputs):
        x, w = inputs
        maps, channels = w.shape[-1], x.shape[-1]
        x = ops.reshape(x, (-1, x.shape[1] * x.shape[2], maps, channels // maps))
        w = ops.reshape(w, (-1, w.shape[1] * w.shape[2], maps))
        return ops.reshape(ops.einsum("nphc,nph->nhc", x, w), (-1, 1, 1, channels))

    def compute_output_shape(self, shapes):
        return (shapes[0][0], 1, 1, shapes[0][-1])


@keras.saving.register_keras_serializable(package="resdsl")
class DilatedConv2D(layers.Conv2D):
    """A Conv2D whose dilated kernel may also stride, as PyTorch's may (Keras' Conv2D
    refuses `strides > 1` with `dilation_rate > 1`): the dilated conv at stride 1,
    then every stride-th row and column, which are the strided conv's outputs."""

    def __init__(self, filters, kernel_size, strides=(1, 1), **kwargs):
        self.step = (strides, strides) if isinstance(strides, int) else tuple(strides)
        super().__init__(filters, kernel_size, strides=1, **kwargs)

    def convolution_op(self, inputs, kernel):
        y = super().convolution_op(inputs, kernel)
        return y if self.step == (1, 1) else y[:, ::self.step[0], ::self.step[1], :]

    def compute_output_shape(self, input_shape):
        n, h, w, c = super().compute_output_shape(input_shape)

        def every(size, step):  # a stride-1 output of `size` sampled every `step`
            return None if size is None else -(-size // step)
        return (n, every(h, self.step[0]), every(w, self.step[1]), c)

    def get_config(self):
        return {**super().get_config(), "strides": self.step}


@keras.saving.register_keras_serializable(package="resdsl")
class StdConv2D(DilatedConv2D):
    """A Conv2D with weight standardisation (Qiao et al. 2019; timm's StdConv2d): each
    filter is shifted and scaled to zero mean and unit variance (biased, plus `eps`)
    before every use; the stored kernel stays the raw one, so ported weights are as
    timm saves them."""

    def __init__(self, *args, eps=1e-6, **kwargs):
        super().__init__(*args, **kwargs)
        self.eps = float(eps)

    def convolution_op(self, inputs, kernel):
        mean = ops.mean(kernel, axis=(0, 1, 2), keepdims=True)
        var = ops.mean(ops.square(kernel - mean), axis=(0, 1, 2), keepdims=True)
        return super().convolution_op(inputs, (kernel - mean) / ops.sqrt(var + self.eps))

    def get_config(self):
        return {**super().get_config(), "eps": self.eps}
