"""A saved .keras file of a resdsl model loads in a fresh process after a plain
`import resdsl` (which itself imports no Keras), and not without it."""
from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import resdsl
from tests.helpers.saved import predict_in_fresh_process

TINY = """\
resdsl: 1
name: tiny_saved
input: {height: 8, width: 8, channels: 3}
stem:
  - conv: {filters: 4, kernel: 3, stride: 2, padding: same}
  - norm
  - act
  - maxpool: {size: 3, stride: 2, padding: 1}
stages:
  - {block: basic, filters: 4, repeat: 1}
  - {block: basic, filters: 8, repeat: 1, stride: 2, shortcut: zeropad}
head: [global_avgpool, {dense: {units: 3, activation: softmax}}]
"""


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("keras_saved")
    model = resdsl.build(TINY, backend="keras")
    x = np.random.default_rng(0).standard_normal((2, 8, 8, 3)).astype("float32")
    model.save(tmp / "m.keras")
    kinds = {type(layer).__name__ for layer in resdsl.backends.keras.layer_map(model).values()}
    assert {"ConstantPad2D", "ChannelPad"} <= kinds  # the custom layers are in the file
    return tmp / "m.keras", x, np.asarray(model(x, training=False))


def test_loads_after_import_resdsl(saved):
    path, x, y = saved
    done, got = predict_in_fresh_process(
        path, x, "import resdsl\nassert 'keras' not in sys.modules and 'tensorflow' not in sys.modules")
    assert done.returncode == 0, done.stderr[-3000:]
    np.testing.assert_allclose(got, y, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_without_resdsl_keras_cannot_load_it(saved):
    """The control: the registration is what makes the difference."""
    path, x, _ = saved
    done, _ = predict_in_fresh_process(path, x)
    assert done.returncode != 0 and "resdsl>" in done.stderr


@pytest.mark.slow
def test_registers_when_keras_came_first(saved):
    path, x, y = saved
    done, got = predict_in_fresh_process(path, x, "import keras\nimport resdsl")
    assert done.returncode == 0, done.stderr[-3000:]
    np.testing.assert_allclose(got, y, rtol=1e-5, atol=1e-6)
