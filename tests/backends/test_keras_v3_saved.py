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
import zipfile

import numpy as np
import pytest

torch = pytest.importorskip("torch")
keras = pytest.importorskip("keras")

import resdsl
from resdsl.backends.keras import layer_map
from tests.helpers.norms import randomise_weights
from tests.helpers.numeric import relative
from tests.helpers.saved import ROOT, predict_in_fresh_process
from tests.helpers.specs import ALL_V3_OPS

# resdsl's Keras classes the v3 ops build; a saved file names each of them.
V3_CLASSES = {"ChannelSplit", "AxisSoftmax", "AttentionPool", "BlurPool2D", "StdConv2D", "DilatedConv2D",
              "MaxPool2DCeil"}


@pytest.fixture(scope="module")
def ported(tmp_path_factory, one_torch_thread):
    r = resdsl.resolve(ALL_V3_OPS)
    tm = resdsl.build(r, backend="torch").eval()
    randomise_weights(tm)
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
    rel = relative(want, keras.ops.convert_to_numpy(km(x, training=False)))
    assert rel < 1e-5, rel


@pytest.mark.slow  # a fresh process each, as test_keras_portable's saved-file checks
def test_saved_file_loads_in_a_fresh_process(ported):
    _, km, x, _, tmp = ported
    km.save(tmp / "v3.keras")
    with zipfile.ZipFile(tmp / "v3.keras") as saved:
        config = saved.read("config.json").decode()
    assert all(f'"resdsl>{name}"' in config for name in V3_CLASSES)  # loading needs resdsl's classes
    done, got = predict_in_fresh_process(tmp / "v3.keras", x, "import resdsl\nassert 'keras' not in sys.modules")
    assert done.returncode == 0, done.stderr[-3000:]
    np.testing.assert_array_equal(got, keras.ops.convert_to_numpy(km(x, training=False)))


ON_TORCH = r"""
import sys
import numpy as np, torch, keras
import resdsl
from tests.helpers.norms import randomise_weights
from tests.helpers.numeric import relative
from tests.helpers.specs import ALL_V3_OPS
assert keras.backend.backend() == "torch", keras.backend.backend()
torch.set_num_threads(1)
r = resdsl.resolve(ALL_V3_OPS)
tm, km = resdsl.build(r, backend="torch").eval(), resdsl.build(r, backend="keras")
assert km.count_params() == r.params + r.buffers
randomise_weights(tm)
resdsl.port_weights(tm, km)
x = np.random.default_rng(1).standard_normal((2, *r.input_shape)).astype("float32")
with torch.no_grad():
    want = tm(torch.from_numpy(x)).numpy()
got = keras.ops.convert_to_numpy(km(x.transpose(0, 2, 3, 1), training=False))
km.save(sys.argv[1])
again = keras.ops.convert_to_numpy(keras.saving.load_model(sys.argv[1])(x.transpose(0, 2, 3, 1), training=False))
print(relative(want, got), float(np.abs(again - got).max()))
"""


@pytest.mark.slow  # a fresh process each, as test_keras_portable's saved-file checks
def test_on_keras_torch_backend(tmp_path):
    done = subprocess.run([sys.executable, "-c", ON_TORCH, str(tmp_path / "v3.keras")], capture_output=True,
                          text=True, timeout=300, cwd=ROOT,
                          env={**os.environ, "KERAS_BACKEND": "torch", "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-3000:]
    rel, reload_diff = map(float, done.stdout.split()[-2:])
    assert rel < 1e-5 and reload_diff == 0.0, (rel, reload_diff)
