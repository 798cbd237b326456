"""The language-v3 network (tests/helpers/specs.py ALL_V3_OPS: every v3 op and field
in one small net) in Keras as a user keeps it: with weights ported from the torch
build it computes torch's outputs; saved to a .keras file it loads in a fresh process
after a plain `import resdsl` (the v3 layers are resdsl's own classes, found through
its registration) and computes the same outputs bit for bit; and it builds and agrees
on Keras' PyTorch backend too."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
keras = pytest.importorskip("keras")

import resdsl
from resdsl.backends.keras import layer_map
from tests.helpers.specs import ALL_V3_OPS

ROOT = Path(__file__).resolve().parents[2]
# resdsl's Keras classes the v3 ops build; a saved file names each of them.
V3_CLASSES = {"ChannelSplit", "AxisSoftmax", "AttentionPool", "BlurPool2D", "StdConv2D", "DilatedConv2D",
              "MaxPool2DCeil"}


def randomise_torch(model, seed=0):
    """Every parameter and norm statistic away from its initial value: layer norms,
    biases and zero-initialised convs then matter as much as the kernels. Other
    buffers (the blur pool's fixed filter) are constants of the op, not weights:
    neither framework ports them, so they keep their values."""
    g = torch.Generator().manual_seed(seed)
    buffers = dict(model.named_buffers())
    with torch.no_grad():
        for name, t in [*model.named_parameters(), *model.named_buffers()]:
            if name in buffers and not name.endswith(("running_mean", "running_var")):
                continue
            if t.dim() == 1:  # norm weights, biases, variances: positive, around 1
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            else:
                t.copy_(torch.randn(t.shape, generator=g) * 0.3)


@pytest.fixture(scope="module")
def ported(tmp_path_factory, one_torch_thread):
    r = resdsl.resolve(ALL_V3_OPS)
    tm = resdsl.build(r, backend="torch").eval()
    randomise_torch(tm)
    km = resdsl.build(r, backend="keras")
    resdsl.port_weights(tm, km)
    x = np.random.default_rng(1).standard_normal((2, *r.input_shape)).astype("float32")
    with torch.no_grad():
        want = tm(torch.from_numpy(x)).numpy()
    return r, km, x.transpose(0, 2, 3, 1).copy(), want, tmp_path_factory.mktemp("v3_saved")


def test_keras_computes_torchs_outputs(ported):
    r, km, x, want, _ = ported
    assert km.count_params() == r.params + r.buffers
    assert V3_CLASSES <= {type(layer).__name__ for layer in layer_map(km).values()}
    got = keras.ops.convert_to_numpy(km(x, training=False))
    rel = np.abs(got - want).max() / np.abs(want).max()
    assert rel < 1e-5, rel


@pytest.mark.slow  # a fresh process each, as test_keras_portable's saved-file checks
def test_saved_file_loads_in_a_fresh_process(ported):
    r, km, x, _, tmp = ported
    km.save(tmp / "v3.keras")
    np.save(tmp / "x.npy", x)
    code = ("import sys, resdsl\nassert 'keras' not in sys.modules\n"
            "import keras, numpy as np\n"
            "m = keras.saving.load_model(sys.argv[1])\n"
            "from resdsl.backends.keras import layer_map\n"
            "print(sorted({type(l).__name__ for l in layer_map(m).values()}))\n"
            "np.save(sys.argv[2], keras.ops.convert_to_numpy(m(np.load(sys.argv[3]), training=False)))\n")
    done = subprocess.run([sys.executable, "-c", code, str(tmp / "v3.keras"), str(tmp / "y.npy"), str(tmp / "x.npy")],
                          capture_output=True, text=True, timeout=300, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-3000:]
    assert V3_CLASSES <= set(eval(done.stdout.strip().splitlines()[-1]))
    np.testing.assert_array_equal(np.load(tmp / "y.npy"), keras.ops.convert_to_numpy(km(x, training=False)))


ON_TORCH = r"""
import sys
import numpy as np, torch, keras
import resdsl
from tests.backends.test_keras_v3_saved import randomise_torch
from tests.helpers.specs import ALL_V3_OPS
assert keras.backend.backend() == "torch", keras.backend.backend()
torch.set_num_threads(1)
r = resdsl.resolve(ALL_V3_OPS)
tm, km = resdsl.build(r, backend="torch").eval(), resdsl.build(r, backend="keras")
assert km.count_params() == r.params + r.buffers
randomise_torch(tm)
resdsl.port_weights(tm, km)
x = np.random.default_rng(1).standard_normal((2, *r.input_shape)).astype("float32")
with torch.no_grad():
    want = tm(torch.from_numpy(x)).numpy()
got = keras.ops.convert_to_numpy(km(x.transpose(0, 2, 3, 1), training=False))
km.save(sys.argv[1])
again = keras.ops.convert_to_numpy(keras.saving.load_model(sys.argv[1])(x.transpose(0, 2, 3, 1), training=False))
print(float(np.abs(got - want).max() / np.abs(want).max()), float(np.abs(again - got).max()))
"""


@pytest.mark.slow  # a fresh process each, as test_keras_portable's saved-file checks
def test_on_keras_torch_backend(tmp_path):
    done = subprocess.run([sys.executable, "-c", ON_TORCH, str(tmp_path / "v3.keras")], capture_output=True,
                          text=True, timeout=300, cwd=ROOT,
                          env={**os.environ, "KERAS_BACKEND": "torch", "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-3000:]
    rel, reload_diff = map(float, done.stdout.split()[-2:])
    assert rel < 1e-5 and reload_diff == 0.0, (rel, reload_diff)
