"""Ready for a GPU and for deployment, checked on the CPU: no device-specific
code (the models run on the meta device and in float64), channels_last gives
the same outputs, training steps work (the in-place ops the emitter chooses
leave autograd intact), torch.compile(fullgraph=True) finds no graph break and
torch.export exports."""
from __future__ import annotations

import copy
import re

import pytest

torch = pytest.importorskip("torch")

import resdsl
from resdsl.backends import get_backend

build = get_backend("torch").build
# Between them: every runtime helper (asymmetric conv and -inf max-pool padding,
# zero padding, subsampling, channel padding, softmax dense, norm before an act
# and after one, pre-activation blocks).
SPECS = ["cifar_resnet20", "cifar10_resnet30", "resnet50v2", "signs_resnet50", "resnet18"]
ASYMMETRIC = """\
resdsl: 1
name: asymmetric
input: {height: 17, width: 18, channels: 2}
stem:
  - conv: {filters: 4, kernel: 3, stride: 2, padding: same, bias: true}
  - maxpool: {size: 3, stride: 2, padding: [0, 2, 1, 0]}
  - zeropad: {padding: [1, 0, 0, 2]}
  - conv: {filters: 3, kernel: [3, 2], padding: [1, 2, 0, 3], name: lopsided}
head: [flatten, {dense: {units: 5, activation: softmax}}]
"""
# Every built-in block kind, small enough to train a step in no time.
KINDS = """\
resdsl: 1
name: kinds
input: {height: 16, width: 16, channels: 3}
stem:
  - conv: {filters: 8, kernel: 3, padding: 1}
  - norm
  - act
stages:
  - {block: bottleneck, filters: 4, repeat: 2, stride: 2, stride_on: 1x1, groups: 2}
  - {block: preact_bottleneck, filters: 4, repeat: 2, stride: 2, stride_position: last, projection_on: channels}
  - {block: preact_basic, filters: 8, repeat: 2, stride: 2}
  - {block: basic, filters: 8, repeat: 2, shortcut: none}
head: [global_avgpool, {dense: {units: 3}}]
"""


def small(name, resolve_small):
    return resolve_small(name, 32) if name in resdsl.shipped_names() else resdsl.resolve(name)


@pytest.mark.parametrize("name", [*SPECS, ASYMMETRIC, KINDS])
def test_channels_last_float64_and_meta(name, resolve_small, randomise_norms):
    r = small(name, resolve_small)
    torch.manual_seed(0)
    model = build(r)
    randomise_norms(model)
    model.eval()
    x = torch.randn(2, *r.input_shape)
    with torch.no_grad():
        expected = model(x)
        cl = model.to(memory_format=torch.channels_last)(x.to(memory_format=torch.channels_last))
        assert (cl - expected).abs().max().item() <= 1e-5
        wide = model.to(torch.float64)(x.double())
        assert wide.dtype == torch.float64 and (wide - expected.double()).abs().max().item() <= 1e-4
        # The meta device has no data: any tensor made in forward without following
        # its input's device or dtype would fail here (as it would on a GPU).
        meta = model.to("meta")(torch.empty(2, *r.input_shape, device="meta", dtype=torch.float64))
        assert meta.device.type == "meta" and tuple(meta.shape) == (2, *r.output_shape)


@pytest.mark.parametrize("name", ["cifar_resnet20", pytest.param("cifar10_resnet30", marks=pytest.mark.slow), KINDS,
                                  ASYMMETRIC, "edge"])
def test_a_training_step(name, resolve_small, edge_spec):
    """Backward works and the in-place ReLUs and additions the emitter chose give
    the gradients of the same model with every op out of place."""
    r = small(edge_spec if name == "edge" else name, resolve_small)
    torch.manual_seed(0)
    model = build(r).train()
    reference = copy.deepcopy(model)
    for m in reference.modules():
        if getattr(m, "inplace", False):
            m.inplace = False
    assert sum(getattr(m, "inplace", False) for m in model.modules()) > 0 or name == ASYMMETRIC
    x = torch.randn(2, *r.input_shape)
    for m in (model, reference):
        m(x).square().mean().backward()  # raises if an in-place op overwrote a tensor autograd needs
    for (n, p), q in zip(model.named_parameters(), reference.parameters()):
        assert p.grad is not None and torch.allclose(p.grad, q.grad, rtol=1e-4, atol=1e-7), n
    before = [p.detach().clone() for p in model.parameters()]
    torch.optim.SGD(model.parameters(), lr=0.1).step()
    changed = sum(not torch.equal(a, p) for a, p in zip(before, model.parameters()))
    assert changed >= len(before) // 2  # (a softmax head makes some gradients vanishingly small)


def test_no_device_specific_code():
    for name in SPECS:
        src = resdsl.emit(name, backend="torch", fuse_bn=True)
        # Layers made on the meta device, then moved to the default one (`new_layer`), pick no device.
        assert not re.search(r"cuda|\.cpu\(|[\"']cpu[\"']|device=(?![\"']meta[\"']|device\b)", src), name


def test_asymmetric_padding_is_exact():
    """The zero and -inf paddings land on the sides the IR says, against a
    reference that embeds the input in a larger tensor (no F.pad involved)."""
    r = resdsl.resolve(ASYMMETRIC)
    model = build(r).eval()
    assert type(model.lopsided).__name__ == "Conv2dPad" and type(model.maxpool1).__name__ == "MaxPool2dPad"
    x = torch.randn(1, 4, 9, 9)
    big = torch.zeros(1, 4, 9 + 3, 9 + 3)  # padding (top 1, bottom 2, left 0, right 3)
    big[:, :, 1:10, 0:9] = x
    conv = model.lopsided
    with torch.no_grad():
        assert torch.allclose(conv(x), torch.nn.functional.conv2d(big, conv.weight, conv.bias), atol=1e-6)
        neg = -1 - torch.rand(1, 4, 9, 9)  # all negative: a zero pad would win the max
        pooled = model.maxpool1(neg)
        assert pooled.max() < 0 and tuple(pooled.shape[2:]) == r.graph.nodes["maxpool1"]["shape"][1:]
        padded = model.pad1(neg)
        assert padded[:, :, 0].abs().max() == 0 and padded[:, :, :, -2:].abs().max() == 0
        assert torch.equal(padded[:, :, 1:, :-2], neg)


@pytest.mark.slow
def test_torch_compile_fullgraph():
    """fullgraph=True fails on any graph break. aot_eager traces through
    AOTAutograd (functionalising the in-place ops) without spending a minute in
    C++ code generation; inductor itself was checked by hand (docs/benchmarks.md)."""
    torch.manual_seed(0)
    model = build(resdsl.resolve("cifar_resnet20"))
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
    x = torch.randn(4, 3, 32, 32)
    model.eval()
    with torch.no_grad():
        assert (compiled(x) - model(x)).abs().max().item() <= 1e-5


@pytest.mark.parametrize("name", ["cifar_resnet20", ASYMMETRIC])
def test_torch_export(name, randomise_norms):
    torch.manual_seed(0)
    r = resdsl.resolve(name)
    model = build(r)
    randomise_norms(model)
    model.eval()
    x = torch.randn(2, *r.input_shape)
    exported = torch.export.export(model, (x,))
    with torch.no_grad():
        assert (exported.module()(x) - model(x)).abs().max().item() <= 1e-5
