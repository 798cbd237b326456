"""The helpers an emitted PyTorch module carries with it.

This file is real, linted Python, but the emitter never imports it (emitting
must not import torch): it reads this text and copies into each emitted module
only the definitions that module uses (`torch.emit.runtime_source`). So the
in-memory build (which executes the emitted source) and a `resdsl compile`d
file run exactly this code.
"""
import torch
import torch.nn.functional as F
from torch import nn


def init_weight(layer, init):
    """Initialise a conv or linear layer as the spec asks; biases start at zero
    (Keras' default) unless PyTorch's own initialisation is kept."""
    if init == "torch_default":
        return layer
    w = layer.weight
    if init == "kaiming_normal_fan_out":  # torchvision's ResNet initialisation
        nn.init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")
    elif init == "kaiming_normal_fan_in":
        nn.init.kaiming_normal_(w, mode="fan_in", nonlinearity="relu")
    elif init == "glorot_uniform":  # Keras' default; PyTorch computes the same fans
        nn.init.xavier_uniform_(w)
    elif init == "glorot_normal":
        # Keras draws from a normal truncated at two standard deviations, widened by
        # 1/0.8796 so that the values kept have std sqrt(2 / (fan_in + fan_out)).
        receptive = w[0][0].numel()
        std = (2.0 / (w.shape[0] * receptive + w.shape[1] * receptive)) ** 0.5 / 0.87962566103423978
        nn.init.trunc_normal_(w, 0.0, std, -2.0 * std, 2.0 * std)
    else:
        raise ValueError(f"unknown initialiser {init!r}")
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)
    return layer


def conv(in_channels, out_channels, kernel, stride=1, padding=0, groups=1, bias=False,
         init="kaiming_normal_fan_out"):
    """A Conv2d; `padding` is an int or (top, bottom, left, right), which may be asymmetric."""
    top, bottom, left, right = (padding,) * 4 if isinstance(padding, int) else padding
    if top == bottom and left == right:
        cls, pad = nn.Conv2d, (top, left)
    else:
        cls, pad = Conv2dPad, (top, bottom, left, right)
    return new_layer(init, cls, in_channels, out_channels, kernel, stride, pad, groups=groups, bias=bias)


def new_layer(init, cls, *args, **kwargs):
    """A conv or linear layer initialised by `init_weight`. Unless PyTorch's own
    initialisation is kept, the layer is made on the meta device and then given
    uninitialised storage on the default device (the one `torch.set_default_device`
    or a `with torch.device(...)` block sets), much as torch.nn.utils.skip_init does:
    PyTorch's default draw, which `init` overwrites, is never computed (it costs
    nearly as much as the draw that replaces it: a third of a resnet50's build)."""
    if init == "torch_default":
        return cls(*args, **kwargs)
    device = torch.empty(0).device  # (torch.get_default_device is newer than torch 2.2)
    return init_weight(cls(*args, device="meta", **kwargs).to_empty(device=device), init)


class Conv2dPad(nn.Conv2d):
    """A Conv2d with asymmetric zero padding: TensorFlow's 'same' at stride 2 puts the
    extra row and column after, which Conv2d's symmetric `padding` cannot say."""

    def __init__(self, in_channels, out_channels, kernel, stride, padding, groups=1, bias=False, **factory):
        super().__init__(in_channels, out_channels, kernel, stride, 0, groups=groups, bias=bias, **factory)
        top, bottom, left, right = padding
        self.pad = (left, right, top, bottom)

    # The parent's forward is called by name, not through super(): TorchScript
    # cannot compile `super().forward` (scripting the model would fail).
    def forward(self, x):
        return self._conv_forward(F.pad(x, self.pad), self.weight, self.bias)

    def extra_repr(self):
        return f"{super().extra_repr()}, pad(left, right, top, bottom)={self.pad}"


def dilated(layer, dilation):
    """A conv whose kernel taps are `dilation` pixels apart (atrous convolution): Conv2d
    reads the attribute on every call, so setting it on a built conv is all it takes."""
    layer.dilation = (dilation, dilation) if isinstance(dilation, int) else tuple(dilation)
    return layer


def std_conv(in_channels, out_channels, kernel, stride=1, padding=0, groups=1, bias=False,
             init="kaiming_normal_fan_out", eps=1e-6):
    """A weight-standardised conv (StdConv2d); `padding` as for conv()."""
    return new_layer(init, StdConv2d, in_channels, out_channels, kernel, stride,
                     (padding,) * 4 if isinstance(padding, int) else padding, groups=groups, bias=bias, eps=eps)


class StdConv2d(nn.Conv2d):
    """A Conv2d with weight standardisation (Qiao et al. 2019, as BiT uses it): each
    filter is shifted and scaled to zero mean and unit variance (over its inputs and
    taps; the variance without Bessel's correction, plus `eps`) before every use.
    The stored weight stays the raw one, so timm's StdConv2d weights load as they are.
    Padding is (top, bottom, left, right), symmetric or not."""

    def __init__(self, in_channels, out_channels, kernel, stride, padding, groups=1, bias=False, eps=1e-6, **factory):
        top, bottom, left, right = padding
        symmetric = top == bottom and left == right
        super().__init__(in_channels, out_channels, kernel, stride, (top, left) if symmetric else 0, groups=groups,
                         bias=bias, **factory)
        self.eps = eps
        self.pad = (0, 0, 0, 0) if symmetric else (left, right, top, bottom)

    def forward(self, x):
        # Each filter as one channel of a one-sample batch: batch norm's statistics in
        # training mode are the filter's mean and biased variance (and what timm computes).
        w = self.weight
        weight = F.batch_norm(w.reshape(1, w.shape[0], -1), None, None, training=True, eps=self.eps).reshape_as(w)
        if any(self.pad):
            x = F.pad(x, self.pad)
        return self._conv_forward(x, weight, self.bias)

    def extra_repr(self):
        return f"{super().extra_repr()}, eps={self.eps}" + (f", pad(left, right, top, bottom)={self.pad}"
                                                              if any(self.pad) else "")


def norm(channels, eps=1e-5, momentum=0.1, gamma_init="ones", dims=2):
    """BatchNorm (momentum in PyTorch's convention); gamma may start at zero so a
    residual block starts as the identity (Goyal et al. 2017)."""
    layer = (nn.BatchNorm2d if dims == 2 else nn.BatchNorm1d)(channels, eps=eps, momentum=momentum)
    if gamma_init == "zeros":
        nn.init.zeros_(layer.weight)
    return layer


def group_norm(groups, channels, eps=1e-5, gamma_init="ones"):
    """Group norm (Wu & He 2018): statistics of each sample's channel groups, so the
    same in training and inference, and no running statistics to fold or port."""
    layer = nn.GroupNorm(groups, channels, eps=eps)
    if gamma_init == "zeros":
        nn.init.zeros_(layer.weight)
    return layer


def layer_norm(channels, eps=1e-5, gamma_init="ones", dims=2):
    """Layer norm over the channels at each position (timm's LayerNorm2d), or over a
    vector's features (`dims=1`, nn.LayerNorm itself)."""
    layer = (LayerNorm2d if dims == 2 else nn.LayerNorm)(channels, eps=eps)
    if gamma_init == "zeros":
        nn.init.zeros_(layer.weight)
    return layer


class LayerNorm2d(nn.LayerNorm):
    """nn.LayerNorm over the channel axis of an (N, C, H, W) map: each position's C
    values normalised, with per-channel weight and bias."""

    def forward(self, x):
        y = F.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape, self.weight, self.bias, self.eps)
        return y.permute(0, 3, 1, 2)


ACTIVATIONS = {"relu": nn.ReLU, "relu6": nn.ReLU6, "silu": nn.SiLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh,
               "linear": nn.Identity, "hard_sigmoid": nn.Hardsigmoid, "gelu": nn.GELU}


def act(fn, inplace=False):
    """An activation module by name; in place only where the caller knows it is safe."""
    if inplace and fn in ("relu", "relu6", "silu"):
        return ACTIVATIONS[fn](inplace=True)
    return ACTIVATIONS[fn]()


def max_pool(kernel, stride, padding):
    """Max-pooling that pads with -inf (PyTorch's semantics), asymmetrically or more
    than half the kernel where needed, which MaxPool2d's `padding` cannot do."""
    top, bottom, left, right = (padding,) * 4 if isinstance(padding, int) else padding
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    if top == bottom and left == right and 2 * top <= kh and 2 * left <= kw:
        return nn.MaxPool2d(kernel, stride, (top, left))
    return MaxPool2dPad(kernel, stride, (top, bottom, left, right))


class MaxPool2dPad(nn.MaxPool2d):
    """MaxPool2d after explicit -inf padding (so padding never wins the max)."""

    def __init__(self, kernel, stride, padding):
        super().__init__(kernel, stride)
        top, bottom, left, right = padding
        self.pad = (left, right, top, bottom)

    def forward(self, x):  # F.max_pool2d, not super().forward: see Conv2dPad
        return F.max_pool2d(F.pad(x, self.pad, value=float("-inf")), self.kernel_size, self.stride)

    def extra_repr(self):
        return f"{super().extra_repr()}, pad(left, right, top, bottom)={self.pad}"


def zero_pad(padding):
    """ZeroPad2d from an int or (top, bottom, left, right)."""
    top, bottom, left, right = (padding,) * 4 if isinstance(padding, int) else padding
    return nn.ZeroPad2d((left, right, top, bottom))


class GlobalAvgPool(nn.Module):
    """Average over height and width, giving (N, C) as torchvision's avgpool + flatten."""

    def forward(self, x):
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)


def avg_pool(kernel, stride, padding, ceil_mode=False, count_include_pad=True):
    """AvgPool2d from (top, bottom, left, right) padding, which must be symmetric
    and at most half the window (AvgPool2d's own limits)."""
    top, bottom, left, right = (padding,) * 4 if isinstance(padding, int) else padding
    if top != bottom or left != right:
        raise ValueError(f"avg_pool: asymmetric padding {padding} (PyTorch pads both sides equally)")
    return nn.AvgPool2d(kernel, stride, (top, left), ceil_mode=ceil_mode, count_include_pad=count_include_pad)


class GlobalPool(nn.Module):
    """Global pooling over height and width: 'avg', 'max' or 'avgmax' (timm's
    (mean + max) / 2); `keepdim` leaves (N, C, 1, 1) for a gate's 1x1 convs."""

    def __init__(self, mode="avg", keepdim=False):
        super().__init__()
        self.mode, self.keepdim = mode, keepdim

    def forward(self, x):
        if self.mode == "avg":
            y = x.mean((2, 3), keepdim=True)
        elif self.mode == "max":
            y = x.amax((2, 3), keepdim=True)
        else:
            y = 0.5 * (x.mean((2, 3), keepdim=True) + x.amax((2, 3), keepdim=True))
        return y if self.keepdim else torch.flatten(y, 1)

    def extra_repr(self):
        return f"mode={self.mode!r}, keepdim={self.keepdim}"


class Multiply(nn.Module):
    """x times a gate of the same shape or one value per channel (N, C, 1, 1): the
    excitation of squeeze-and-excitation and ECA."""

    def forward(self, x, gate):
        return x * gate


class Split(nn.Module):
    """Part `index` of the channels split into `parts` equal parts, or into parts of
    the given `sizes`: a view, as torch.split gives."""

    def __init__(self, index, parts=0, sizes=()):
        super().__init__()
        self.index, self.parts = index, parts
        self.start, self.size = sum(sizes[:index]), (sizes[index] if sizes else 0)  # with `sizes`

    def forward(self, x):
        if self.parts:
            size = x.shape[1] // self.parts
            return x.narrow(1, self.index * size, size)
        return x.narrow(1, self.start, self.size)

    def extra_repr(self):
        return f"index={self.index}, " + (f"parts={self.parts}" if self.parts else f"channels {self.start}:"
                                                                                    f"{self.start + self.size}")


class Concat(nn.Module):
    """Tensors joined along the channels, in order."""

    def forward(self, xs: list[torch.Tensor]):
        return torch.cat(xs, 1)


class Softmax(nn.Module):
    """Softmax along the channels ('channels'), over the positions of each channel
    ('spatial': attention weights that sum to 1 over the map), or across `paths` parts
    of the channels ('paths'): the channels seen as (groups, paths, rest), normalised
    across the paths and laid out path by path, which is timm's radix softmax
    (ResNeSt; one group: selective kernels)."""

    def __init__(self, axis, paths=1, groups=1):
        super().__init__()
        self.axis, self.paths, self.groups = axis, paths, groups

    def forward(self, x):
        if self.axis == "channels":
            return torch.softmax(x, dim=1)
        if self.axis == "spatial":
            return torch.softmax(x.flatten(2), dim=-1).view_as(x)
        y = x.reshape(x.shape[0], self.groups, self.paths, -1).transpose(1, 2)
        return torch.softmax(y, dim=1).reshape(x.shape)

    def extra_repr(self):
        return f"axis={self.axis!r}" + (f", paths={self.paths}, groups={self.groups}" if self.axis == "paths" else "")


class BlurPool(nn.Module):
    """Anti-aliased downsampling (Zhang 2019): a binomial blur of `kernel` taps per side
    ([1, 2, 1] / 4 for 3) on each of the `channels`, then every `stride`-th pixel; the
    map is padded by (top, bottom, left, right), reflected or with zeros. The filter
    is a constant, kept out of the state_dict (as timm's BlurPool2d)."""

    def __init__(self, channels, kernel=3, stride=2, padding=(1, 1, 1, 1), pad_mode="reflect"):
        super().__init__()
        top, bottom, left, right = (padding,) * 4 if isinstance(padding, int) else padding
        self.stride, self.pad = stride, (left, right, top, bottom)
        self.mode = "reflect" if pad_mode == "reflect" else "constant"
        row = [1.0]  # a row of Pascal's triangle: the binomial coefficients
        for _ in range(kernel - 1):
            row = [1.0] + [row[i] + row[i + 1] for i in range(len(row) - 1)] + [1.0]
        taps = torch.tensor(row) / sum(row)
        filt = (taps[:, None] * taps[None, :]).expand(channels, 1, kernel, kernel).contiguous()
        self.register_buffer("filt", filt, persistent=False)

    def forward(self, x):
        return F.conv2d(F.pad(x, self.pad, mode=self.mode), self.filt, stride=self.stride, groups=self.filt.shape[0])

    def extra_repr(self):
        return f"{self.filt.shape[0]}, kernel={self.filt.shape[-1]}, stride={self.stride}, " \
               f"pad(left, right, top, bottom)={self.pad}, mode={self.mode!r}"


class AttentionPool(nn.Module):
    """A weighted sum over the positions per channel, (N, C, 1, 1): the features x
    pooled by weights (N, h, H, W), each group of C / h channels by its own map (the
    context of a global-context block, Cao et al. 2019, with one softmax map)."""

    def forward(self, x, weights):
        n, c, h, w = x.shape
        maps = weights.shape[1]
        pooled = torch.matmul(x.reshape(n, maps, c // maps, h * w), weights.reshape(n, maps, h * w, 1))
        return pooled.reshape(n, c, 1, 1)


class ChannelConv(nn.Conv1d):
    """A 1-D conv sliding across the channels of a pooled (N, C, 1, 1) tensor (ECA,
    Wang et al. 2020); the weight is Conv1d's (1, 1, k), as timm stores it."""

    def __init__(self, kernel, bias=False):
        super().__init__(1, 1, kernel, padding=(kernel - 1) // 2, bias=bias)

    def forward(self, x):  # _conv_forward, not super().forward: see Conv2dPad
        return self._conv_forward(x.reshape(x.shape[0], 1, -1), self.weight, self.bias).reshape(x.shape)


class DropPath(nn.Module):
    """Stochastic depth (Huang et al. 2016): in training, zero a sample's whole
    residual branch with probability `rate` and scale the kept ones by 1 / (1 - rate),
    as timm's DropPath; the identity in eval mode."""

    def __init__(self, rate):
        super().__init__()
        self.rate = rate

    def forward(self, x):
        if not self.training or self.rate == 0:
            return x
        keep = 1.0 - self.rate
        mask = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep)
        return x * mask.div_(keep)

    def extra_repr(self):
        return f"rate={self.rate}"


class Subsample(nn.Module):
    """Every `stride`-th row and column: the parameter-free shortcut of a strided
    block (the paper's option A; Keras ResNet V2's 1x1 max-pool)."""

    def __init__(self, stride):
        super().__init__()
        self.stride = stride

    def forward(self, x):
        return x[:, :, ::self.stride, ::self.stride]

    def extra_repr(self):
        return f"stride={self.stride}"


class ChannelPad(nn.Module):
    """Zero channels before and after: option A's shortcut when the width grows."""

    def __init__(self, before, after):
        super().__init__()
        self.before, self.after = before, after

    def forward(self, x):
        return F.pad(x, (0, 0, 0, 0, self.before, self.after))

    def extra_repr(self):
        return f"before={self.before}, after={self.after}"


class Add(nn.Module):
    """The residual addition. In place, it reuses the main path's buffer, as
    torchvision's `out += identity`; the emitter allows that only where the main
    path's tensor is fresh and used nowhere else."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, x, shortcut):
        return x.add_(shortcut) if self.inplace else x + shortcut

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


def dense(in_features, units, activation="linear", bias=True, init="torch_default"):
    """A Linear layer, with its activation built in when there is one (Keras' Dense)."""
    if activation == "linear":
        return new_layer(init, nn.Linear, in_features, units, bias=bias)
    return new_layer(init, Dense, in_features, units, bias, activation)


class Dense(nn.Linear):
    """Linear, then an activation (softmax over the classes, or any of ACTIVATIONS)."""

    def __init__(self, in_features, units, bias, activation, **factory):
        super().__init__(in_features, units, bias=bias, **factory)
        self.activation = nn.Softmax(dim=1) if activation == "softmax" else ACTIVATIONS[activation]()

    def forward(self, x):  # F.linear, not super().forward: see Conv2dPad
        return self.activation(F.linear(x, self.weight, self.bias))


class Backbone(nn.Module):
    """timm's backbone conventions, so detection and segmentation code can use the
    network: `reset_classifier`, `get_classifier`, `feature_info` (each stage's
    channels and reduction) and torchvision's `inplanes`. Each network class
    writes its own `forward_features` (everything before the head) and
    `forward_head`, and names its classifier (the head's last layer) in CLASSIFIER."""

    CLASSIFIER = None
    FEATURE_INFO = ()
    __jit_unused_properties__ = ("feature_info",)  # Python-side API; TorchScript compiles forward only

    @property
    def feature_info(self):
        return [dict(info) for info in self.FEATURE_INFO]

    def get_classifier(self):
        return self.get_submodule(self.CLASSIFIER) if self.CLASSIFIER else None

    def reset_classifier(self, num_classes):
        """A new, freshly initialised last dense layer with `num_classes` outputs
        (none, an identity, for 0: the pooled features), as timm does."""
        layer = self.get_classifier()
        if not isinstance(layer, nn.Linear):
            raise TypeError("the network's head does not end in a dense layer")
        if num_classes == 0:
            parent, _, leaf = self.CLASSIFIER.rpartition(".")
            setattr(self.get_submodule(parent) if parent else self, leaf, nn.Identity())
        else:  # resized in place, so an activation built into the layer stays
            layer.out_features = num_classes
            layer.weight = nn.Parameter(layer.weight.new_empty(num_classes, layer.in_features))
            if layer.bias is not None:
                layer.bias = nn.Parameter(layer.bias.new_empty(num_classes))
            layer.reset_parameters()
        self.num_classes = num_classes


class Holder(nn.Module):
    """A module that only holds named children (a dotted name's `stem` in `stem.conv1`).
    TorchScript compiles the forward of every submodule, and nn.Module's own forward
    cannot be compiled, so this one has a forward that says it is not to be called."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("a Holder only holds layers: call its children")


def add_stage(root, path, module):
    """`root.<path> = module` for a dotted path, making the containers on the way:
    an nn.Sequential where the next part is an index (timm's `stages.0.blocks`),
    else a Holder."""
    parts = path.split(".")
    owner = root
    for i, part in enumerate(parts[:-1]):
        child = owner._modules.get(part)
        if child is None:
            child = nn.Sequential() if parts[i + 1].isdigit() else Holder()
            owner.add_module(part, child)
        owner = child
    owner.add_module(parts[-1], module)


def fold_batchnorm(model):
    """Fold each BatchNorm that directly follows a conv into that conv, for inference.

    Every class lists its foldable (conv, norm) pairs in `FUSE`; a norm that does
    not follow a conv (a pre-activation, or one after an activation) stays.
    The model is put in eval mode: folding freezes the running statistics.
    Then every conv weight is made channels-last (NHWC). A conv with such a weight
    returns an NHWC output whatever its input's layout, so the network runs in that
    layout, which PyTorch's CPU convolutions (oneDNN) run much faster than NCHW
    (docs/benchmarks.md). A memory layout, not a device choice: the outputs differ
    only by rounding, on any device.
    """
    model.eval()
    for owner in list(model.modules()):
        for conv_name, norm_name in getattr(owner, "FUSE", ()):
            # A block without its optional shortcut has no `downsample.*` pair, and shortcut
            # variants may put other layers at those names: fold only a conv and its norm.
            try:
                layer, bn = owner.get_submodule(conv_name), owner.get_submodule(norm_name)
            except AttributeError:
                continue
            if not (isinstance(layer, nn.Conv2d) and isinstance(bn, nn.modules.batchnorm._BatchNorm)):
                continue
            w = layer.weight
            with torch.no_grad():
                # Per-channel factors in float64, so each weight is rounded once.
                scale = bn.weight.double() / torch.sqrt(bn.running_var.double() + bn.eps)
                bias = layer.bias.double() if layer.bias is not None else torch.zeros_like(scale)
                # Scaled straight into channels-last storage: one pass over the weights, not two.
                folded = torch.empty_like(w, memory_format=torch.channels_last)
                torch.mul(w, scale.to(w.dtype).reshape(-1, 1, 1, 1), out=folded)
                new_bias = ((bias - bn.running_mean.double()) * scale + bn.bias.double()).to(w.dtype)
            layer.weight = nn.Parameter(folded, requires_grad=w.requires_grad)
            layer.bias = nn.Parameter(new_bias, requires_grad=w.requires_grad)
            parent, _, leaf = norm_name.rpartition(".")
            setattr(owner.get_submodule(parent) if parent else owner, leaf, nn.Identity())
    return model.to(memory_format=torch.channels_last)  # the convs that no norm followed
