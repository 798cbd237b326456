"""The Keras fit path: it learns with the same recipe, writes the same files,
and resumes from its epoch checkpoint to the same weights as a run that was
never stopped."""
from __future__ import annotations

import os
import signal

import numpy as np
import pytest

pytest.importorskip("keras")
from train_data import TINY

import resdsl
from resdsl.training import Interrupted

OPTS = dict(batch_size=20, progress=False, preset="paper-cifar")


def _weights(path):
    from resdsl.backends.keras import load
    return [np.asarray(w) for w in load(str(path)).get_weights()]


def test_learns_writes_and_resumes(cifar_tgz, tmp_path):
    full = resdsl.train(TINY, cifar_tgz, "keras", epochs=2, out=tmp_path / "full", **OPTS)
    losses = [r["train_loss"] for r in full.rows]
    assert losses[-1] < losses[0] * 0.8, losses
    assert full.rows[-1]["lr"] == pytest.approx(0.001) and full.rows[-1]["step"] == 20  # /10 at 10 and 15
    for name in ("run.json", "metrics.csv", "metrics.json", "checkpoint.keras", "model.keras"):
        assert (tmp_path / "full" / name).stat().st_size > 0, name

    def ctrl_c(step):
        if step == 13:  # in epoch 2: that epoch is dropped, epoch 1's checkpoint stays
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(Interrupted, match="end of epoch 1"):
        resdsl.train(TINY, cifar_tgz, "keras", epochs=2, out=tmp_path / "cut", on_step=ctrl_c, **OPTS)
    again = resdsl.train(TINY, cifar_tgz, "keras", epochs=2, out=tmp_path / "cut", resume=True, **OPTS)
    assert [r["epoch"] for r in again.rows] == [1, 2]
    a, b = _weights(tmp_path / "full" / "model.keras"), _weights(tmp_path / "cut" / "model.keras")
    assert all(np.allclose(x, y, rtol=1e-5, atol=1e-6) for x, y in zip(a, b))
    assert again.rows[-1]["val_acc"] == pytest.approx(full.rows[-1]["val_acc"])


def test_amp_without_a_gpu_is_a_note_not_a_failure():
    from types import SimpleNamespace

    import keras
    import tensorflow as tf

    from resdsl.training.keras_fit import _setup
    if tf.config.list_physical_devices("GPU"):
        pytest.skip("a GPU is visible: mixed precision would be used")
    job = SimpleNamespace(cfg=SimpleNamespace(device="auto", amp=True), notes=[])
    strategy, _ = _setup(job)
    assert job.notes == ["--amp needs a GPU; trained in float32"]
    assert keras.mixed_precision.global_policy().name == "float32"
    assert not isinstance(strategy, tf.distribute.MirroredStrategy)
