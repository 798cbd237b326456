"""The same spec compiled to PyTorch and to Keras is the same function.

For every shipped spec: build both, give the torch model non-trivial batch-norm
statistics, port its weights into the Keras model, and compare outputs in
eval mode (≤ 1e-4 relative); port back into a fresh torch model and get the
same outputs again. On the way: Keras' count_params() equals the IR's
parameters + buffers, and every IR node's predicted shape is the shape the
Keras layer of that name produces. ImageNet-sized specs run at 64x64 (their
stages and heads do not depend on the input size); the others, and resnet10t
(see NATIVE), at their own size.
"""
from __future__ import annotations

import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
keras = pytest.importorskip("keras")

import resdsl
from resdsl.backends import get_backend
from resdsl.backends.keras import layer_shapes, trace
from tests.helpers.norms import randomise_norms
from tests.helpers.numeric import nhwc, relative
from tests.helpers.specs import resolve_small as _resolve_small

RTOL = 1e-4


def resolve_small(name: str):
    """ImageNet-sized specs at 64x64; those in NATIVE at their own size."""
    return resdsl.resolve(name) if name in NATIVE else _resolve_small(name)


SPECS = [n for n in resdsl.shipped_names() if n != "cifar_resnet1202"]
# At their own size: resnet10t's 176x176 leaves an odd 11x11 map that layer4's shortcut
# average-pools with ceil_mode (a last one-pixel window), which Keras must do as PyTorch.
NATIVE = {"resnet10t"}
# Porting back (Keras -> torch) for one spec of each flavour; the rest is the same code.
BACK = {"resnet18", "resnext50_32x4d", "resnet50v2", "cifar_resnet20", "cifar10_resnet30", "signs_resnet50"}
# Layer-by-layer runs (slow in eager Keras) for a few specs; the others check shapes statically.
TRACE = {"resnet18", "cifar_resnet20", "cifar10_resnet30", "resnet50v2"}


# torch's and TensorFlow's thread pools fight over two cores (30x slower).
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("name", SPECS)
def test_torch_and_keras_builds_agree(name):
    r = resolve_small(name)
    torch_backend, keras_backend = get_backend("torch"), get_backend("keras")
    km = keras_backend.build(r)
    tm = torch_backend.build(r).eval()
    assert km.count_params() == r.params + r.buffers
    randomise_norms(tm)
    resdsl.port_weights(tm, km)

    x = np.random.default_rng(1).normal(size=(2, *r.input_shape)).astype("float32")
    with torch.no_grad():
        yt = tm(torch.from_numpy(x)).numpy()
    x_nhwc = x.transpose(0, 2, 3, 1)
    yk = keras.ops.convert_to_numpy(km(x_nhwc, training=False))
    assert relative(yt, yk) <= RTOL, f"{name}: outputs differ by {relative(yt, yk):.2e} relative"

    # Every node: the Keras layer of that name gives the IR's shape.
    shapes = layer_shapes(km, r)
    if name in TRACE:
        outs = trace(km, r, x_nhwc)
        assert relative(yk, keras.ops.convert_to_numpy(outs[r.output])) < 1e-6
        shapes = {n: (None, *o.shape[1:]) for n, o in outs.items()}
    for node, d in r.graph.nodes(data=True):
        got = tuple(shapes[node][1:])
        assert got == nhwc(d["shape"]), f"{name}: layer '{node}' gives {got}, the IR predicts {nhwc(d['shape'])}"
    if name not in BACK:
        return
    back = torch_backend.build(r).eval()
    resdsl.port_weights(km, back)
    with torch.no_grad():
        y_back = back(torch.from_numpy(x)).numpy()
    assert relative(yt, y_back) < 1e-6


@pytest.mark.slow
def test_1202_layer_network_agrees():
    """The paper's 1202-layer CIFAR ResNet builds at the default recursion limit;
    counts and outputs agree (shapes statically, no per-layer trace: time)."""
    r = resdsl.resolve("cifar_resnet1202")
    # Python's default limit: hand-written functional Keras code hits RecursionError here.
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)
    try:
        km = get_backend("keras").build(r)
    finally:
        sys.setrecursionlimit(before)
    tm = get_backend("torch").build(r).eval()
    assert km.count_params() == r.params + r.buffers
    assert layer_shapes(km, r)[r.output] == (None, 10)
    # Small gammas: each block adds its branch to the sum, and 600 unit-gain branches overflow.
    randomise_norms(tm, gamma=0.05)
    resdsl.port_weights(tm, km)
    x = np.random.default_rng(2).normal(size=(1, *r.input_shape)).astype("float32")
    with torch.no_grad():
        yt = tm(torch.from_numpy(x)).numpy()
    yk = keras.ops.convert_to_numpy(km(x.transpose(0, 2, 3, 1), training=False))
    assert relative(yt, yk) <= RTOL


# Outputs of every kind (see tests/backends/test_torch_outputs.py): each must agree.
TAPPED = """\
extends: resnet18
name: tapped
input: {height: 64, width: 64, channels: 3}
outputs: [bn1, maxpool, layer1, layer2.0, layer2.1.bn1, layer3.0.conv2, layer4, fc]
"""


def test_every_output_agrees_across_frameworks():
    r = resdsl.resolve(TAPPED)
    tm = get_backend("torch").build(r).eval()
    km = get_backend("keras").build(r)
    assert km.output_names == r.output_names and km.count_params() == r.params + r.buffers
    randomise_norms(tm)
    resdsl.port_weights(tm, km)
    x = np.random.default_rng(3).normal(size=(2, *r.input_shape)).astype("float32")
    with torch.no_grad():
        yts = [y.numpy() for y in tm(torch.from_numpy(x))]
    yks = [keras.ops.convert_to_numpy(y) for y in km(x.transpose(0, 2, 3, 1), training=False)]
    assert len(yts) == len(yks) == len(r.outputs)
    for name, yt, yk, shape in zip(r.output_names, yts, yks, r.output_shapes):
        assert yk.shape == (2, *nhwc(shape)), name
        yt = yt.transpose(0, 2, 3, 1) if yt.ndim == 4 else yt
        assert relative(yt, yk) <= RTOL, f"output {name}: {relative(yt, yk):.2e} relative"
    back = get_backend("torch").build(r).eval()
    resdsl.port_weights(km, back)
    with torch.no_grad():
        for name, yt, y in zip(r.output_names, yts, back(torch.from_numpy(x))):
            assert relative(yt, y.numpy()) < 1e-6, name
