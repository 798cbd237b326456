"""Keras layers for issue 22's ops (keras/extra.py), each against the PyTorch op
resdsl builds (torch/runtime.py) on the same random input, NHWC against NCHW:
channel split, softmax over the positions and across paths, blur pooling,
attention pooling and the weight-standardised conv. Each layer also survives
get_config -> from_config with the same output. These hold each layer to
PyTorch's semantics on its own; test_keras_v3_saved.py checks them together in
one emitted network, ported, saved and reloaded."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
keras = pytest.importorskip("keras")

from resdsl.backends.keras import extra
from resdsl.backends.torch import runtime

RNG = np.random.default_rng(0)


def nchw(shape):
    return RNG.normal(size=shape).astype("float32")


def to_nhwc(a):
    return a.transpose(0, 2, 3, 1) if a.ndim == 4 else a


def run_both(layer, module, *xs):
    """(Keras output in NCHW, torch output) for NCHW inputs `xs`."""
    k_in = [to_nhwc(x) for x in xs]
    y = keras.ops.convert_to_numpy(layer(k_in if len(xs) > 1 else k_in[0]))
    with torch.no_grad():
        t = module(*[torch.from_numpy(x) for x in xs]).numpy()
    return (y.transpose(0, 3, 1, 2) if y.ndim == 4 else y), t


def same_after_config(layer, *xs):
    again = type(layer).from_config(layer.get_config())
    k_in = [to_nhwc(x) for x in xs]
    arg = k_in if len(xs) > 1 else k_in[0]
    np.testing.assert_allclose(keras.ops.convert_to_numpy(again(arg)), keras.ops.convert_to_numpy(layer(arg)),
                               rtol=0, atol=0)


@pytest.mark.parametrize("kwargs", [{"parts": 4}, {"sizes": (2, 6, 4)}])
def test_channel_split(kwargs):
    x = nchw((2, 12, 5, 3))
    n = kwargs.get("parts") or len(kwargs["sizes"])
    for i in range(n):
        y, t = run_both(extra.ChannelSplit(i, **kwargs), runtime.Split(i, **kwargs), x)
        np.testing.assert_array_equal(y, t)
        assert y.shape[1] == (12 // n if "parts" in kwargs else kwargs["sizes"][i])
    same_after_config(extra.ChannelSplit(1, **kwargs), x)


@pytest.mark.parametrize("axis, paths, groups, shape", [("spatial", 1, 1, (2, 3, 5, 4)), ("paths", 2, 1, (2, 12, 1, 1)),
                                                        ("paths", 2, 3, (2, 12, 1, 1)), ("paths", 3, 2, (2, 12, 4, 3))])
def test_axis_softmax(axis, paths, groups, shape):
    x = nchw(shape)
    layer = extra.AxisSoftmax(axis, paths, groups)
    y, t = run_both(layer, runtime.Softmax(axis, paths, groups), x)
    np.testing.assert_allclose(y, t, rtol=1e-6, atol=1e-7)
    # the torch op against a literal reading of its definition
    if axis == "spatial":
        ref = torch.softmax(torch.from_numpy(x).flatten(2), -1).reshape(shape).numpy()
    else:
        v = x.reshape(shape[0], groups, paths, -1, *shape[2:])
        e = np.exp(v - v.max(axis=2, keepdims=True))
        ref = (e / e.sum(axis=2, keepdims=True)).transpose(0, 2, 1, *range(3, v.ndim)).reshape(shape)
    np.testing.assert_allclose(t, ref, rtol=1e-5, atol=1e-6)
    same_after_config(layer, x)


@pytest.mark.parametrize("kernel, stride, padding, mode", [(3, 2, (1, 1, 1, 1), "reflect"),
                                                           (5, 2, (2, 2, 2, 2), "reflect"),
                                                           (3, 1, (1, 1, 1, 1), "zeros"),
                                                           (4, 2, (1, 2, 1, 2), "zeros")])
def test_blur_pool(kernel, stride, padding, mode):
    x = nchw((2, 6, 9, 8))
    layer = extra.BlurPool2D(kernel, stride, padding, mode)
    module = runtime.BlurPool(6, kernel, stride, padding, mode)
    y, t = run_both(layer, module, x)
    np.testing.assert_allclose(y, t, rtol=1e-5, atol=1e-6)
    assert tuple(layer.compute_output_shape((None, 9, 8, 6)))[1:3] == t.shape[2:]
    assert not layer.weights and not list(module.state_dict())  # a constant, not a weight
    # [1, 2, 1] / 4 each way for 3 taps; the filter sums to one
    assert np.allclose(extra.binomial_filter(3), np.outer([1, 2, 1], [1, 2, 1]) / 16)
    assert np.isclose(module.filt[0, 0].sum().item(), 1.0)
    same_after_config(layer, x)


def test_blur_pool_is_timms():
    timm = pytest.importorskip("timm")
    x = torch.randn(2, 4, 10, 7)
    ours = runtime.BlurPool(4, 3, 2, (1, 1, 1, 1), "reflect")
    with torch.no_grad():
        torch.testing.assert_close(ours(x), timm.layers.BlurPool2d(4, 3, 2)(x), rtol=0, atol=0)


@pytest.mark.parametrize("maps", [1, 2])
def test_attention_pool(maps):
    x, w = nchw((2, 6, 4, 5)), nchw((2, maps, 4, 5))
    y, t = run_both(extra.AttentionPool(), runtime.AttentionPool(), x, w)
    np.testing.assert_allclose(y, t, rtol=1e-5, atol=1e-5)
    groups = x.reshape(2, maps, 6 // maps, 20) * w.reshape(2, maps, 1, 20)
    np.testing.assert_allclose(t, groups.sum(-1).reshape(2, 6, 1, 1), rtol=1e-5, atol=1e-5)
    assert extra.AttentionPool().compute_output_shape([(None, 4, 5, 6), (None, 4, 5, maps)]) == (None, 1, 1, 6)


@pytest.mark.parametrize("groups, dilation, bias", [(1, 1, False), (2, 2, True)])
def test_std_conv(groups, dilation, bias):
    x = nchw((2, 4, 9, 9))
    module = runtime.dilated(runtime.std_conv(4, 6, 3, padding=dilation, groups=groups, bias=bias, eps=1e-8),
                             dilation)
    layer = extra.StdConv2D(6, 3, padding="same", groups=groups, dilation_rate=dilation, use_bias=bias, eps=1e-8)
    layer.build((None, 9, 9, 4))
    weights = [module.weight.detach().numpy().transpose(2, 3, 1, 0)]
    if bias:
        weights.append(module.bias.detach().numpy())
    layer.set_weights(weights)
    y, t = run_both(layer, module, x)
    np.testing.assert_allclose(y, t, rtol=1e-4, atol=1e-4)
    # the torch conv: a plain conv with each filter standardised by hand (biased variance)
    w = module.weight.detach().double()
    w = (w - w.mean((1, 2, 3), keepdim=True)) / (w.var((1, 2, 3), unbiased=False, keepdim=True) + 1e-8).sqrt()
    b = module.bias.detach().double() if bias else None
    ref = torch.nn.functional.conv2d(torch.from_numpy(x).double(), w, b, padding=dilation, dilation=dilation,
                                     groups=groups)
    np.testing.assert_allclose(t, ref.numpy(), rtol=1e-4, atol=1e-4)
    again = extra.StdConv2D.from_config(layer.get_config())  # a fresh kernel: give it this one
    again.build((None, 9, 9, 4))
    again.set_weights(layer.get_weights())
    assert again.eps == 1e-8
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(again(to_nhwc(x))),
                                  keras.ops.convert_to_numpy(layer(to_nhwc(x))))
