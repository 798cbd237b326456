"""The Keras build on Keras' PyTorch backend (KERAS_BACKEND=torch). The variable
must be set before keras is first imported, so this runs in a fresh process.
The specs cover what differs between backends: -inf max-pool padding and
PyTorch-style conv padding (resnet18), Keras' asymmetric stride-2 'same' and
flatten before dense (cifar10_resnet30), option-A shortcuts (cifar_resnet20)."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytest.importorskip("torch")
pytest.importorskip("keras")

SCRIPT = r"""
import re, sys, types
import numpy as np, torch, keras
import resdsl
from resdsl.backends import get_backend
from resdsl.spec.shipped import shipped_path
assert keras.backend.backend() == "torch", keras.backend.backend()
torch.set_num_threads(1)
for name in ("resnet18", "cifar10_resnet30", "cifar_resnet20"):
    text = re.sub(r"height: 224, width: 224", "height: 32, width: 32", shipped_path(name).read_text())
    r = resdsl.resolve(text)
    km, tm = get_backend("keras").build(r), get_backend("torch").build(r).eval()
    assert isinstance(km, keras.Model)
    assert km.count_params() == r.params + r.buffers, name
    with torch.no_grad():
        for m in tm.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1); m.running_var.uniform_(0.5, 1.5); m.weight.uniform_(0.5, 1.5)
    resdsl.port_weights(tm, km)
    x = np.random.default_rng(0).normal(size=(2, *r.input_shape)).astype("float32")
    with torch.no_grad():
        want = tm(torch.from_numpy(x)).numpy()
    got = keras.ops.convert_to_numpy(km(x.transpose(0, 2, 3, 1), training=False))
    rel = float(np.abs(want - got).max() / np.abs(want).max())
    assert rel <= 1e-4, (name, rel)
    print(name, "ok", f"{rel:.1e}")
src = resdsl.emit("cifar_resnet20", backend="keras")
mod = types.ModuleType("m"); exec(compile(src, "m", "exec"), mod.__dict__)
emitted, built = mod.build_model(), get_backend("keras").build(resdsl.resolve("cifar_resnet20"))
assert emitted.count_params() == built.count_params()
resdsl.port_weights(built, emitted)  # names match through the torch-safe look-alike dots
x = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype("float32")
assert np.allclose(keras.ops.convert_to_numpy(emitted(x)), keras.ops.convert_to_numpy(built(x)), atol=1e-5)
print("emitted ok")
"""


def test_keras_on_the_torch_backend():
    env = {**os.environ, "KERAS_BACKEND": "torch"}
    res = subprocess.run([sys.executable, "-c", SCRIPT], check=False, capture_output=True, text=True, env=env,
                         timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr[-3000:]
    assert res.stdout.count(" ok ") == 3 and "emitted ok" in res.stdout
