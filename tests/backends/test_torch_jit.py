"""TorchScript and ONNX export of every shipped spec.

Each spec is built once and goes through torch.jit.script, torch.jit.trace and
ONNX (exported from the trace, checked with onnx's checker and run with
onnxruntime); all three must give the eager outputs. The ImageNet specs are
built at 64x64 (their layers do not depend on the input size), so the cost is
the number of layers, not the pixels: cifar_resnet1202 is the slowest case.

ONNX Runtime picks other conv algorithms than PyTorch, and a deep network at
initialisation amplifies rounding (the plain 56-layer net turns float32's 1e-7
into 5e-4 at its output, in PyTorch alone). So ONNX Runtime is held to
PyTorch's own accuracy: its distance from a float64 run of the same model may be
at most a few times PyTorch's float32 distance from it. A wrong graph misses by
orders of magnitude more.
"""
from __future__ import annotations

import copy
import io

import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import resdsl


def _calibrate_norms(model, x) -> None:
    """Fresh running statistics (mean 0, variance 1) let 600 residual additions
    overflow to inf in cifar_resnet1202; one training-mode pass with a cumulative
    average (momentum None) sets them to this batch's statistics, so every spec's
    outputs are finite and of a sensible scale. The batch must be larger than two
    images: a 2×2 last map of two images gives statistics so noisy that ResNet-18
    outputs reach 1e3. Leaves the model in eval mode."""
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for m in norms:
        m.momentum = None
    with torch.no_grad():
        model.train()(x)
    model.eval()


# At its own 176x176, resnet10t's layer4 shortcut average-pools an odd 11x11 map with
# ceil_mode: ONNX's AveragePool must keep PyTorch's last one-pixel window.
NATIVE = {"resnet10t"}


# The quick run scripts and exports one spec of each kind of layer and shortcut (zero-pad,
# user blocks, bottleneck, pre-activation, ECA's Conv1d, SE gates with groups, the odd
# ceil-mode pool); the rest (deeper copies of these, 1202 layers) run as `slow`.
QUICK = {"cifar_resnet20", "cifar10_resnet30", "resnet18", "resnet50", "resnet50v2", "resnet10t", "ecaresnet50d",
         "seresnext50_32x4d"}


@pytest.mark.parametrize("name", [n if n in QUICK else pytest.param(n, marks=pytest.mark.slow)
                                  for n in resdsl.shipped_names()])
def test_script_trace_and_onnx(name, resolve_small):
    torch.manual_seed(0)
    r = resdsl.resolve(name) if name in NATIVE else resolve_small(name, 64)
    model = resdsl.build(r)
    _calibrate_norms(model, torch.randn(8, *r.input_shape))
    x = torch.randn(2, *r.input_shape)
    with torch.no_grad():
        y = model(x)
        assert torch.isfinite(y).all()
        torch.testing.assert_close(torch.jit.script(model)(x), y, rtol=1e-5, atol=1e-5)
        traced = torch.jit.trace(model, x, check_trace=False)
        torch.testing.assert_close(traced(x), y, rtol=1e-5, atol=1e-5)

    buf = io.BytesIO()
    torch.onnx.export(traced, (x,), buf, dynamo=False, input_names=["x"], output_names=["y"])
    proto = onnx.load_from_string(buf.getvalue())
    onnx.checker.check_model(proto)
    # ECA: a Conv1d; a blur pool is a depthwise conv with a fixed filter
    convs = sum(isinstance(m, torch.nn.modules.conv._ConvNd) or type(m).__name__ == "BlurPool" for m in model.modules())
    assert sum(node.op_type == "Conv" for node in proto.graph.node) == convs
    session = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"x": x.numpy()})
    with torch.no_grad():
        exact = copy.deepcopy(model).double()(x.double())
    torch_error = (y.double() - exact).abs().max().item()
    ort_error = (torch.from_numpy(got).double() - exact).abs().max().item()
    assert ort_error <= 4 * torch_error + 1e-5, (ort_error, torch_error)
