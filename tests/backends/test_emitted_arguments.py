"""Issue 22 item 3: emitted modules take arguments as torchvision's, timm's and
keras.applications' models do, meaning what the same keywords mean to
`resdsl.build`: torch `Net(num_classes=, in_channels=)` and
`build_model(num_classes=, in_channels=)`; Keras `build_model(input_shape=None,
num_classes=, include_top=True, pooling=None)`; and `resdsl.emit` takes build's
keywords. Each emitted model built with non-default arguments is checked
against resdsl.build with the same keywords (parameter counts, output shapes,
weights loaded strictly and equal outputs for torch, layer names for Keras)."""
from __future__ import annotations

import numpy as np
import pytest

import resdsl
from resdsl.backends.codegen import load_source

# A stem without a conv: the input's width reaches the first stage's blocks,
# so the module takes only the spec's channels.
NORM_STEM = """\
resdsl: 1
name: norm_stem
input: {height: 16, width: 16, channels: 3}
stem: [norm]
stages: [{block: basic, filters: 4, repeat: 1, shortcut: projection}]
head: [global_avgpool, {dense: {units: 3}}]
"""

# No dense layer in the head: nothing takes num_classes.
NO_CLASSIFIER = """\
resdsl: 1
name: no_classifier
input: {height: 16, width: 16, channels: 3}
stem: [{conv: {filters: 4, kernel: 3, padding: 1}}]
stages: [{block: basic, filters: 4, repeat: 1}]
head: [global_avgpool]
"""

# A stem that is not a chain and reads the input twice (a norm and a zero pad
# before the conv), and a classifier read by a layer after it.
BRANCHY = """\
resdsl: 1
name: branchy
input: {height: 16, width: 16, channels: 3}
stem:
  - {norm: {name: in_norm}}
  - {act: {fn: relu, from: $in, name: raw}}
  - {add: {with: in_norm}}
  - {conv: {filters: 4, kernel: 3, padding: 1}}
stages: [{block: basic, filters: 4, repeat: 2}]
head: [global_avgpool, {dense: {units: 3, name: fc}}, {act: {fn: sigmoid, name: out}}]
"""


def _module(spec, backend: str):
    return load_source(resdsl.emit(spec, backend=backend), "args", backend)


def _torch_count(model) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("spec", ["cifar_resnet20", "resnet50d", BRANCHY], ids=["cifar_resnet20", "resnet50d",
                                                                                  "branchy"])
def test_torch_module_arguments_build_what_resdsl_build_builds(spec):
    torch = pytest.importorskip("torch")
    module = _module(spec, "torch")
    want = resdsl.build(spec, num_classes=5, in_channels=1).eval()
    net = type(resdsl.build(spec)).__name__
    for got in (module.build_model(num_classes=5, in_channels=1), getattr(module, net)(num_classes=5, in_channels=1)):
        got.eval()
        assert _torch_count(got) == _torch_count(want) != _torch_count(resdsl.build(spec))
        assert got.num_classes == 5
        got.load_state_dict(want.state_dict(), strict=True)
        size = resdsl.resolve(spec).input_shape[1:]
        x = torch.randn(2, 1, *size)
        with torch.no_grad():
            out = got(x)
            assert out.shape == (2, 5)
            torch.testing.assert_close(out, want(x), rtol=0, atol=0)


def test_torch_module_defaults_are_the_spec():
    pytest.importorskip("torch")
    module = _module("cifar_resnet20", "torch")
    assert _torch_count(module.build_model()) == resdsl.resolve("cifar_resnet20").params


def test_torch_fused_module_takes_the_arguments_too():
    torch = pytest.importorskip("torch")
    module = load_source(resdsl.emit("cifar_resnet20", fuse_bn=True), "args_fused", "torch")
    model = module.build_model(num_classes=7, in_channels=2, fused=False)
    assert model(torch.randn(1, 2, 32, 32)).shape == (1, 7)
    assert _torch_count(model) == _torch_count(resdsl.build("cifar_resnet20", num_classes=7, in_channels=2))


@pytest.mark.parametrize("backend", ["torch", "keras"])
def test_arguments_the_network_cannot_take_are_refused(backend):
    pytest.importorskip(backend)
    fixed, none = _module(NORM_STEM, backend), _module(NO_CLASSIFIER, backend)
    if backend == "torch":
        fixed.build_model(in_channels=3)  # the spec's own
        with pytest.raises(ValueError, match="in_channels=3 only"):
            fixed.build_model(in_channels=1)
        with pytest.raises(ValueError, match="no classifier"):
            none.build_model(num_classes=5)
        assert _torch_count(none.build_model()) == resdsl.resolve(NO_CLASSIFIER).params  # num_classes=None
    else:
        fixed.build_model(input_shape=(16, 16, 3))
        with pytest.raises(ValueError, match="3 input channels only"):
            fixed.build_model(input_shape=(16, 16, 1))
        with pytest.raises(ValueError, match="no classifier"):
            none.build_model(num_classes=5)


@pytest.mark.parametrize("spec", ["cifar_resnet20", BRANCHY], ids=["cifar_resnet20", "branchy"])
@pytest.mark.parametrize("kwargs, build_kwargs", [
    ({"input_shape": (24, 24, 1), "num_classes": 5}, {"in_channels": 1, "input_size": 24, "num_classes": 5}),
    ({"include_top": False}, {"include_top": False}),
    ({"include_top": False, "pooling": "avg"}, {"include_top": False, "pooling": "avg"}),
    ({"include_top": False, "pooling": "max", "input_shape": (16, 16, 2)},
     {"include_top": False, "pooling": "max", "in_channels": 2, "input_size": 16}),
], ids=["shape_classes", "no_top", "avg", "max"])
def test_keras_build_model_arguments_as_keras_applications(spec, kwargs, build_kwargs):
    pytest.importorskip("keras")
    got = _module(spec, "keras").build_model(**kwargs)
    want = resdsl.build(spec, backend="keras", **build_kwargs)
    assert got.count_params() == want.count_params()
    assert [la.name for la in got.layers] == [la.name for la in want.layers]
    shape = kwargs.get("input_shape") or tuple(resdsl.resolve(spec).input_shape[1:]) + (3,)
    x = np.random.default_rng(0).normal(size=(2, *shape)).astype("float32")
    assert tuple(got(x).shape) == tuple(want(x).shape)
    if not kwargs.get("include_top", True) and "pooling" not in kwargs:
        assert len(got(x).shape) == 4  # the feature map
    elif "pooling" in kwargs:
        assert tuple(got(x).shape) == (2, want.output_shape[-1])


def test_keras_pooling_is_checked_as_keras_applications_checks_it():
    pytest.importorskip("keras")
    module = _module("cifar_resnet20", "keras")
    with pytest.raises(ValueError, match="only with include_top=False"):
        module.build_model(pooling="avg")
    with pytest.raises(ValueError, match="pooling must be None, 'avg' or 'max'"):
        module.build_model(include_top=False, pooling="mean")


@pytest.mark.parametrize("backend", ["torch", "keras"])
def test_emit_takes_the_keywords_of_build(backend):
    pytest.importorskip(backend)
    src = resdsl.emit("cifar_resnet20", backend=backend, num_classes=5, in_channels=1)
    model = load_source(src, "emit_kw", backend).build_model()
    want = resdsl.build("cifar_resnet20", backend=backend, num_classes=5, in_channels=1)
    if backend == "torch":
        assert _torch_count(model) == _torch_count(want) and model.fc.out_features == 5
    else:
        assert model.count_params() == want.count_params() and model.output_shape == (None, 5)
    with pytest.raises(TypeError, match="num_clases"):  # a misspelt keyword, as build says
        resdsl.emit("cifar_resnet20", backend=backend, num_clases=5)
