"""How far exported models are from the framework model they came from: the
largest absolute output difference of ONNX Runtime vs torch and of the reloaded
SavedModel vs torch, on a shipped network with non-trivial BatchNorm statistics.

    python bench/export_parity.py [SPEC] [--size N]
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import onnxruntime as ort
import tensorflow as tf
import torch

import resdsl
from resdsl.export import export


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("spec", nargs="?", default="resnet50")
    p.add_argument("--size", type=int, default=128)
    a = p.parse_args()
    r = resdsl.resolve(a.spec, input_size=(a.size, a.size))
    torch.manual_seed(0)
    model = resdsl.build(r, backend="torch").eval()
    for m in model.modules():  # statistics that matter, as after training
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
    x = np.random.default_rng(0).standard_normal((4, *r.input_shape)).astype("float32")
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    with tempfile.TemporaryDirectory() as tmp:
        w = Path(tmp) / "w.pt"
        torch.save(model.state_dict(), w)
        export(r, "onnx", Path(tmp) / "m.onnx", weights=w)
        got = ort.InferenceSession(str(Path(tmp) / "m.onnx"), providers=["CPUExecutionProvider"]).run(
            None, {"input": x})[0]
        print(f"{a.spec} {a.size}x{a.size}: output max |x| {np.abs(ref).max():.3g}")
        scale = np.abs(ref).max()
        print(f"  ONNX Runtime vs torch: max abs diff {np.abs(got - ref).max():.3g} "
              f"(relative to max |output| {np.abs(got - ref).max() / scale:.3g})")
        export(r, "savedmodel", Path(tmp) / "sm", weights=w)
        sm = tf.saved_model.load(str(Path(tmp) / "sm"))
        got = sm.serve(tf.constant(x.transpose(0, 2, 3, 1))).numpy()
        print(f"  SavedModel vs torch:   max abs diff {np.abs(got - ref).max():.3g} "
              f"(relative {np.abs(got - ref).max() / scale:.3g})")


if __name__ == "__main__":
    main()
