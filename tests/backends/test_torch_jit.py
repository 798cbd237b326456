"""TorchScript and ONNX export of the shipped specs.

torch.jit.script runs over every shipped spec but cifar_resnet1202 (the same
block classes as cifar_resnet110; scripting it takes most of a minute on CI's
cores). jit.trace and ONNX (checked with onnxruntime) run over a subset that
holds every runtime helper and block kind (asymmetric conv and max-pool padding,
Dense with softmax, v2 pre-activation, grouped convs, option-A shortcuts): on
two cores the full cross product took 7 minutes. The ImageNet specs are built
at 32x32 (their layers do not depend on the input size).
"""
from __future__ import annotations

import io
import warnings

import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")

import resdsl

DEEP = {"cifar_resnet1202"}
NAMES = [n for n in resdsl.shipped_names() if n not in DEEP]
RUN_ONNX = {"resnet50_keras", "resnet50v2", "cifar10_resnet30", "resnext50_32x4d", "cifar_resnet20", "resnet18"}


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # jit.script's deprecation notice, tracer warnings
        yield


def _eager(name, resolve_small):
    torch.manual_seed(0)
    r = resolve_small(name, 32)
    model = resdsl.build(r).eval()
    x = torch.randn(2, *r.input_shape)
    with torch.no_grad():
        return model, x, model(x)


@pytest.mark.parametrize("name", NAMES)
def test_script(name, resolve_small):
    model, x, y = _eager(name, resolve_small)
    with torch.no_grad():
        torch.testing.assert_close(torch.jit.script(model)(x), y, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", sorted(RUN_ONNX))
def test_trace_and_onnx(name, resolve_small):
    model, x, y = _eager(name, resolve_small)
    with torch.no_grad():
        traced = torch.jit.trace(model, x, check_trace=False)
        torch.testing.assert_close(traced(x), y, rtol=1e-5, atol=1e-5)
    buf = io.BytesIO()
    torch.onnx.export(model, (x,), buf, dynamo=False,
                      input_names=["x"], output_names=["y"])
    proto = onnx.load_from_string(buf.getvalue())
    onnx.checker.check_model(proto)
    convs = sum(isinstance(m, torch.nn.Conv2d) for m in model.modules())
    assert sum(node.op_type == "Conv" for node in proto.graph.node) == convs
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"x": x.numpy()})
    torch.testing.assert_close(torch.from_numpy(got), y, rtol=1e-4, atol=1e-5)

