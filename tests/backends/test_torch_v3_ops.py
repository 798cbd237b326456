"""Issue 22's ops in the PyTorch build: each runtime module against timm's module
or PyTorch's own functions, and one small network using all of them, built from
its emitted source, scripted, fused and checked node by node against the IR."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
timm = pytest.importorskip("timm")

import resdsl
from resdsl.backends.torch import runtime
from tests.helpers.specs import ALL_V3_OPS as ALL

F = torch.nn.functional


def test_layer_norm_is_timms_layernorm2d():
    ours, theirs = runtime.layer_norm(8, eps=1e-6), timm.layers.LayerNorm2d(8, eps=1e-6)
    with torch.no_grad():
        for p in (ours.weight, ours.bias):
            p.normal_()
        theirs.load_state_dict(ours.state_dict())
        x = torch.randn(2, 8, 5, 3)
        torch.testing.assert_close(ours(x), theirs(x), rtol=0, atol=0)
        v = torch.randn(4, 8)
        torch.testing.assert_close(runtime.layer_norm(8, dims=1)(v), F.layer_norm(v, (8,)), rtol=0, atol=0)


@pytest.mark.parametrize("radix, cardinality", [(2, 1), (2, 2), (4, 3)])
def test_softmax_across_paths_is_timms_radix_softmax(radix, cardinality):
    x = torch.randn(3, radix * cardinality * 5, 1, 1)
    want = timm.layers.split_attn.RadixSoftmax(radix, cardinality)(x).view(x.shape)
    torch.testing.assert_close(runtime.Softmax("paths", radix, cardinality)(x), want, rtol=0, atol=0)


def test_softmax_over_positions_and_channels():
    x = torch.randn(2, 3, 4, 5)
    y = runtime.Softmax("spatial")(x)
    torch.testing.assert_close(y.sum((2, 3)), torch.ones(2, 3))
    torch.testing.assert_close(y, F.softmax(x.reshape(2, 3, 20), -1).reshape(x.shape), rtol=0, atol=0)
    torch.testing.assert_close(runtime.Softmax("channels")(x), F.softmax(x, 1), rtol=0, atol=0)


def test_std_conv_is_timms_with_its_eps():
    ours = runtime.std_conv(6, 8, 3, stride=2, padding=1, groups=2, eps=1e-8)
    theirs = timm.layers.StdConv2d(6, 8, 3, stride=2, padding=1, groups=2, eps=1e-8)
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(2, 6, 9, 9)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x), rtol=0, atol=0)
    asym = runtime.std_conv(6, 8, 3, stride=2, padding=(0, 1, 0, 1))  # TensorFlow's 'same' at stride 2
    with torch.no_grad():
        want = F.conv2d(F.pad(x, (0, 1, 0, 1)), F.batch_norm(asym.weight.reshape(1, 8, -1), None, None,
                                                               training=True, eps=1e-6).reshape_as(asym.weight),
                        stride=2)
        torch.testing.assert_close(asym(x), want, rtol=0, atol=0)


def test_dilated_conv_and_split_and_attention_pool_against_functional():
    conv = runtime.dilated(runtime.conv(4, 5, 3, padding=2), 2)
    x = torch.randn(2, 4, 7, 6)
    with torch.no_grad():
        torch.testing.assert_close(conv(x), F.conv2d(x, conv.weight, padding=2, dilation=2), rtol=0, atol=0)
    parts = [runtime.Split(i, sizes=(1, 3))(x) for i in range(2)]
    assert torch.equal(torch.cat(parts, 1), x) and torch.equal(runtime.Concat()(parts), x)
    w = torch.softmax(torch.randn(2, 1, 42), -1).reshape(2, 1, 7, 6)
    torch.testing.assert_close(runtime.AttentionPool()(x, w), (x * w).sum((2, 3), keepdim=True))


@pytest.fixture(scope="module")
def built(one_torch_thread, randomise_norms):
    r = resdsl.resolve(ALL)
    model = resdsl.build(r).eval()
    randomise_norms(model)
    with torch.no_grad():  # the layer norms and the zero-initialised biases matter too
        for p in model.parameters():
            if not p.any() or p.dim() == 1:
                p.copy_(torch.randn(p.shape) * 0.3 + (1.0 if p.dim() == 1 else 0.0))
    return r, model


def test_every_node_has_the_irs_shape(built):
    r, model = built
    seen, hooks = {}, []
    for n, d in r.graph.nodes(data=True):
        if d["op"] != "input":
            hooks.append(model.get_submodule(n).register_forward_hook(
                lambda m, a, out, n=n: seen.__setitem__(n, out.shape[1:])))
    with torch.no_grad():
        y = model(torch.randn(2, 3, 20, 20))
    for h in hooks:  # the model is shared with the next test, which scripts it
        h.remove()
    assert torch.isfinite(y).all()
    wrong = {n: (tuple(s), r.node(n)["shape"]) for n, s in seen.items() if tuple(s) != r.node(n)["shape"]}
    assert not wrong and len(seen) == len(r.graph) - 1
    assert sum(p.numel() for p in model.parameters()) == r.params
    saved = model.state_dict()
    assert sum(b.numel() for k, b in model.named_buffers() if k in saved and "num_batches" not in k) == r.buffers


@pytest.mark.filterwarnings("ignore::FutureWarning")  # torch.jit.script's deprecation notice
def test_scripted_and_fused_builds_agree(built):
    r, model = built
    x = torch.randn(2, 3, 20, 20)
    from resdsl.backends.torch.portable import load_source
    module = load_source(resdsl.emit(r, fuse_bn=True), r.name)
    fused = module.build_model(fused=False)  # unfolded, to take these weights, then folded
    fused.load_state_dict(model.state_dict())
    fused = module.fold_batchnorm(fused)
    with torch.no_grad():
        y = model(x)
        torch.testing.assert_close(torch.jit.script(model)(x), y, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(fused(x), y, rtol=1e-4, atol=1e-4)
    # a batch norm after a weight-standardised conv is never folded into it
    assert isinstance(fused.get_submodule("layer1.0.std_bn"), torch.nn.BatchNorm2d)
    assert isinstance(fused.get_submodule("bn1"), torch.nn.Identity)  # one after a plain conv is


def test_emitted_source_reads_as_written(built):
    src = resdsl.emit(built[0])
    assert "dilated(conv(" in src and "std_conv(" in src and "eps=1e-08" in src
    assert "self.cat([" in src and "Softmax(\"paths\", paths=2)" in src and "layer_norm(" in src
    assert "BlurPool(in_channels" in src and "AttentionPool()" in src


def test_layer_norm_weights_port_both_ways():
    from resdsl.backends.port import torch as port
    t = {"weight": torch.randn(8), "bias": torch.randn(8)}
    k = port.to_keras("layernorm", t, None)
    assert set(k) == {"gamma", "beta"}
    back = port.to_torch("layernorm", k, None)
    assert all(torch.equal(torch.as_tensor(back[n]), t[n]) for n in t)
    assert port._kind(runtime.layer_norm(4), "") == "layernorm"
