"""TorchScript and ONNX export of every shipped spec.

Each spec is built once and goes through torch.jit.script, torch.jit.trace and
ONNX (exported from the trace, checked with onnx's checker and run with
onnxruntime); all three must give the eager outputs. The ImageNet specs are
built at 32x32 (their layers do not depend on the input size), so the cost is
the number of layers, not the pixels: cifar_resnet1202 is the slowest case.
"""
from __future__ import annotations

import io
import warnings

import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import resdsl


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # jit.script's deprecation notice, tracer warnings
        yield


def _calibrate_norms(model, x) -> None:
    """Fresh running statistics (mean 0, variance 1) let 600 residual additions
    overflow to inf in cifar_resnet1202; one training-mode pass with momentum 1
    sets them to this batch's statistics, so every spec's outputs are finite and
    of a sensible scale. Leaves the model in eval mode."""
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for m in norms:
        m.momentum = 1.0
    with torch.no_grad():
        model.train()(x)
    model.eval()


@pytest.mark.parametrize("name", resdsl.shipped_names())
def test_script_trace_and_onnx(name, resolve_small):
    torch.manual_seed(0)
    r = resolve_small(name, 32)
    model = resdsl.build(r)
    x = torch.randn(2, *r.input_shape)
    _calibrate_norms(model, x)
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
    convs = sum(isinstance(m, torch.nn.modules.conv._ConvNd) for m in model.modules())  # ECA: Conv1d
    assert sum(node.op_type == "Conv" for node in proto.graph.node) == convs
    session = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"x": x.numpy()})
    torch.testing.assert_close(torch.from_numpy(got), y, rtol=1e-4, atol=1e-5)
