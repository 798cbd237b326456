"""Several outputs in the PyTorch build: `forward` returns a list in the spec's
order whose values are those the single-output network computes on the way
(read with forward hooks), TorchScript / trace / ONNX keep them, and the
backbone API (forward_features, forward_head, feature_info, the classifier)
still works, matching timm's features_only models."""
from __future__ import annotations

import io

import pytest

torch = pytest.importorskip("torch")

import resdsl
from resdsl.errors import SpecError

# A stem layer that an in-place ReLU follows, a block's norm that its in-place
# addition follows, whole stages, a block, layers inside blocks, the classifier.
TAPPED = """\
extends: cifar_resnet20
name: tapped
outputs: [bn1, relu, layer1.1.bn2, layer1, layer2.1, layer2.2.conv2, layer3.0.bn1, layer3, fc]
"""


@pytest.fixture(scope="module")
def tapped(randomise_norms):
    """The tapped network and cifar_resnet20 with the same weights, in eval mode."""
    torch.manual_seed(0)
    r = resdsl.resolve(TAPPED)
    model = resdsl.build(r)
    randomise_norms(model)
    single = resdsl.build("cifar_resnet20")
    single.load_state_dict(model.state_dict())
    return r, model.eval(), single.eval(), torch.randn(2, 3, 32, 32)


def _hooked(model, names, x) -> list:
    """The values the modules `names` produce when `model` runs on x, copied at once
    (an in-place op later in the network would change them)."""
    seen = {}
    handles = [model.get_submodule(n).register_forward_hook(
        lambda m, i, out, n=n: seen.__setitem__(n, out.detach().clone())) for n in names]
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    return [seen[n] for n in names]


def test_outputs_are_the_single_output_networks_values(tapped):
    r, model, single, x = tapped
    with torch.no_grad():
        ys = model(x)
    assert isinstance(ys, list) and len(ys) == len(r.outputs) == 9
    for name, y, expected, shape in zip(r.output_names, ys, _hooked(single, r.outputs, x), r.output_shapes):
        assert tuple(y.shape) == (2, *shape), name
        torch.testing.assert_close(y, expected, rtol=0, atol=0, msg=name)


def test_backbone_methods_with_several_outputs(tapped):
    r, model, single, x = tapped
    with torch.no_grad():
        feats = model.forward_features(x)
        torch.testing.assert_close(feats, single.forward_features(x))
        torch.testing.assert_close(model.forward_head(feats), model(x)[-1])
        torch.testing.assert_close(model.forward_head(feats, pre_logits=True), feats.mean((2, 3)))
    assert model.feature_info == single.feature_info and model.get_classifier() is model.fc


def test_script_trace_and_onnx_keep_every_output(tapped):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    r, model, _, x = tapped
    with torch.no_grad():
        ys = model(x)
        for got, y in zip(torch.jit.script(model)(x), ys, strict=True):
            torch.testing.assert_close(got, y, rtol=1e-5, atol=1e-5)
        traced = torch.jit.trace(model, x, check_trace=False)
        for got, y in zip(traced(x), ys, strict=True):
            torch.testing.assert_close(got, y, rtol=1e-5, atol=1e-5)
    buf = io.BytesIO()  # from the module, which the exporter traces itself: a list becomes one output each
    torch.onnx.export(model, (x,), buf, dynamo=False, input_names=["x"], output_names=r.output_names)
    onnx.checker.check_model(onnx.load_from_string(buf.getvalue()))
    session = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == r.output_names
    for got, y in zip(session.run(None, {"x": x.numpy()}), ys, strict=True):
        torch.testing.assert_close(torch.from_numpy(got), y, rtol=1e-4, atol=1e-4)


def test_onnx_export_names_the_outputs():
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from resdsl.export import onnx_bytes
    r = resdsl.resolve(TAPPED)
    session = ort.InferenceSession(onnx_bytes(r), providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == r.output_names
    shapes = [tuple(y.shape) for y in session.run(None, {"input": torch.zeros(3, 3, 32, 32).numpy()})]
    assert shapes == [(3, *s) for s in r.output_shapes]


def test_fused_batchnorm_leaves_a_returned_conv_alone(tapped):
    """Folding a norm into a conv the network returns would change that output."""
    import sys
    r, model, _, x = tapped
    fused = resdsl.build(r, fuse_bn=True)  # its module's build_model(fused=False) gives one to load weights into
    module = sys.modules[type(fused).__module__]
    fused = module.build_model(fused=False)
    fused.load_state_dict(model.state_dict())
    module.fold_batchnorm(fused)
    assert isinstance(fused.layer2[2].bn2, torch.nn.BatchNorm2d)  # its conv is an output: not folded
    assert isinstance(fused.layer2[2].bn1, torch.nn.Identity)  # the others are
    with torch.no_grad():
        for got, y in zip(fused(x), model(x), strict=True):
            torch.testing.assert_close(got, y, rtol=1e-4, atol=1e-4)


def test_an_output_inside_an_optional_shortcut_is_refused():
    r = resdsl.resolve(TAPPED.replace("layer2.1,", "layer2.0.downsample.1,"))
    with pytest.raises(SpecError) as info:
        resdsl.emit(r, backend="torch")
    d = info.value.first
    assert d.code == "unsupported-output" and "layer2.0.downsample.1" in d.message
    assert (d.span.line, d.span.column) == (3, 44)  # the name in `outputs:`


def test_features_only_matches_timm():
    timm = pytest.importorskip("timm")
    r = resdsl.resolve("extends: resnet50\nname: features\nhead: []\noutputs: [layer1, layer2, layer3, layer4]\n",
                       input_size=(64, 64))
    ours = resdsl.build(r).eval()
    theirs = timm.create_model("resnet50", features_only=True, out_indices=(1, 2, 3, 4), pretrained=False).eval()
    ours.load_state_dict(theirs.state_dict(), strict=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        for got, want in zip(ours(x), theirs(x), strict=True):
            torch.testing.assert_close(got, want)
    keys = ("module", "num_chs", "reduction")
    assert ours.feature_info == [{k: i[k] for k in keys} for i in theirs.feature_info.get_dicts()]
    assert ours.get_classifier() is None


def test_classifier_inside_a_container():
    """The head's layers need not be top-level children: a classifier named `fc.0`
    sits in an nn.Sequential, and the backbone API still finds and replaces it."""
    model = resdsl.build("extends: cifar_resnet20\nname: c\nhead: [global_avgpool, {dense: {units: 10, name: fc.0}}]\n")
    x = torch.randn(2, 3, 32, 32)
    assert model.get_classifier() is model.fc[0]
    model.eval().reset_classifier(4)
    with torch.no_grad():
        assert model(x).shape == (2, 4) and model.forward_head(model.forward_features(x)).shape == (2, 4)
        model.reset_classifier(0)
        assert model(x).shape == (2, 64) and isinstance(model.fc[0], torch.nn.Identity)


def test_deep_stem_forward_features_matches_timm(resolve_small):
    """resnet50d's stem is timm's `conv1.0` ... `conv1.6`, one nn.Sequential: the
    emitted forward_features calls it as timm does, not a loop over children."""
    timm = pytest.importorskip("timm")
    ours = resdsl.build(resolve_small("resnet50d", 64)).eval()
    theirs = timm.create_model("resnet50d", pretrained=False).eval()
    ours.load_state_dict(theirs.state_dict(), strict=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours.forward_features(x), theirs.forward_features(x))
        f = ours.forward_features(x)
        torch.testing.assert_close(ours.forward_head(f, pre_logits=True), theirs.forward_head(f, pre_logits=True))
