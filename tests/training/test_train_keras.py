"""The Keras fit path: it learns with the same recipe, writes the same files,
and resumes — from an epoch end or from a Ctrl-C in the middle of an epoch — to
exactly the weights and metrics of a run that was never stopped."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("keras")
import resdsl
from resdsl.training import Interrupted
from tests.training.train_data import TINY

OPTS = dict(batch_size=20, progress=False, preset="paper-cifar")


def _weights(path):
    from resdsl.backends.keras import load
    return [np.asarray(w) for w in load(str(path)).get_weights()]


def _metrics(rows):  # everything but the timings
    return [{k: v for k, v in r.items() if k not in ("epoch_time_s", "images_per_s")} for r in rows]


@pytest.fixture(scope="module")
def full(cifar_tgz, tmp_path_factory):
    out = tmp_path_factory.mktemp("keras") / "full"
    return out, resdsl.train(TINY, cifar_tgz, "keras", epochs=2, out=out, **OPTS)


def test_learns_and_writes_its_files(full):
    out, h = full
    losses = [r["train_loss"] for r in h.rows]
    assert losses[-1] < losses[0] * 0.8, losses
    assert h.rows[-1]["lr"] == pytest.approx(0.001) and h.rows[-1]["step"] == 20  # /10 at 10 and 15
    for name in ("run.json", "metrics.csv", "metrics.json", "checkpoint.keras", "model.keras"):
        assert (out / name).stat().st_size > 0, name
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # no temporary file left


def _sigint_at(k):
    def hook(step):
        if step == k:
            os.kill(os.getpid(), signal.SIGINT)
    return hook


def _raise_at(k):
    def hook(step):
        if step == k:
            raise KeyboardInterrupt
    return hook


@pytest.mark.parametrize("hook, where", [
    (_sigint_at(13), "epoch 2, step 3"),        # Ctrl-C in the middle of epoch 2
    (_raise_at(10), "the end of epoch 1"),      # KeyboardInterrupt at the last step of epoch 1
    (_raise_at(4), "epoch 1, step 4"),          # ... and in the middle of epoch 1
])
def test_interrupt_then_resume_is_bit_for_bit(full, cifar_tgz, tmp_path, hook, where):
    out, h = full
    with pytest.raises(Interrupted, match=where):
        resdsl.train(TINY, cifar_tgz, "keras", epochs=2, out=tmp_path / "cut", on_step=hook, **OPTS)
    assert not [p.name for p in (tmp_path / "cut").iterdir() if p.name.startswith(".")]
    again = resdsl.train(TINY, cifar_tgz, "keras", epochs=2, out=tmp_path / "cut", resume=True, **OPTS)
    assert _metrics(again.rows) == _metrics(h.rows)
    a, b = _weights(out / "model.keras"), _weights(tmp_path / "cut" / "model.keras")
    assert len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


def test_amp_without_a_gpu_is_a_note_not_a_failure():
    from types import SimpleNamespace

    import keras
    import tensorflow as tf

    from resdsl.training.keras_fit import _setup
    if tf.config.list_physical_devices("GPU"):
        pytest.skip("a GPU is visible: mixed precision would be used")
    job = SimpleNamespace(cfg=SimpleNamespace(device="auto", amp=True), notes=[])
    strategy, _, _ = _setup(job)
    assert job.notes == ["--amp needs a GPU; trained in float32"]
    assert keras.mixed_precision.global_policy().name == "float32"
    assert not isinstance(strategy, tf.distribute.MirroredStrategy)


ON_TORCH = r"""
import json, os, sys
sys.modules["tensorflow"] = None    # any `import tensorflow` fails: Keras on torch must not need it
os.environ["KERAS_BACKEND"] = "torch"
import numpy as np
import resdsl
from resdsl.backends.keras import load
from resdsl.training import Interrupted
spec, data, out = sys.argv[1:4]
opts = dict(epochs=2, batch_size=20, progress=False, device="cpu", amp=True)
full = resdsl.train(spec, data, "keras", out=out + "/full", **opts)
def ctrl_c(step):
    if step == 13:
        raise KeyboardInterrupt
try:
    resdsl.train(spec, data, "keras", out=out + "/cut", on_step=ctrl_c, **opts)
    where = None
except Interrupted as e:
    where = str(e)
again = resdsl.train(spec, data, "keras", out=out + "/cut", resume=True, **opts)
a, b = (load(out + f"/{r}/model.keras").get_weights() for r in ("full", "cut"))
import keras
print(json.dumps({"engine": keras.backend.backend(), "notes": full.notes, "where": where,
                  "losses": [r["train_loss"] for r in full.rows],
                  "same_rows": [{k: v for k, v in r.items() if k not in ("epoch_time_s", "images_per_s")}
                                for r in again.rows] == [{k: v for k, v in r.items()
                                                         if k not in ("epoch_time_s", "images_per_s")}
                                                         for r in full.rows],
                  "max_diff": max(float(np.abs(x - y).max()) for x, y in zip(a, b))}))
"""


def test_keras_on_its_torch_backend_needs_no_tensorflow(cifar_tgz, tmp_path):
    """The Keras trainer runs where TensorFlow is not installed (Keras on torch): it learns, --amp on a
    CPU is a note, and a Ctrl-C in the middle of an epoch resumes bit for bit."""
    pytest.importorskip("torch")
    spec = tmp_path / "tiny.yaml"
    spec.write_text(TINY)
    out = subprocess.run([sys.executable, "-c", ON_TORCH, str(spec), str(cifar_tgz), str(tmp_path)],
                         capture_output=True, text=True, timeout=600, env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    assert out.returncode == 0, out.stderr[-3000:]
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["engine"] == "torch" and r["notes"] == ["--amp needs a GPU; trained in float32"]
    assert r["losses"][-1] < r["losses"][0] * 0.8, r
    assert "epoch 2, step 3" in r["where"]
    assert r["same_rows"] and r["max_diff"] == 0.0, r
