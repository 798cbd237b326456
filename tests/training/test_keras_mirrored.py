"""Keras under tf.distribute.MirroredStrategy, made testable without GPUs: a
subprocess splits the CPU into two logical devices, trains over both and ends
with the weights of a one-device run on the same global batch."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("keras")
import resdsl
from resdsl.training import TrainError
from tests.training.train_data import TINY_NO_NORM

SCRIPT = r"""
import json, sys
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import resdsl
from resdsl.backends.keras import load
spec, data, out = sys.argv[1:4]
opts = dict(epochs=2, batch_size=20, device="cpu", progress=False)
one = resdsl.train(spec, data, "keras", out=out + "/one", **opts)
two = resdsl.train(spec, data, "keras", out=out + "/two", devices=["CPU:0", "CPU:1"], **opts)
a = load(out + "/one/model.keras").get_weights()
b = load(out + "/two/model.keras").get_weights()
init = resdsl.build(spec, "keras").get_weights()
print(json.dumps({
    "notes": [one.notes, two.notes],
    "max_diff": max(float(np.abs(x - y).max()) for x, y in zip(a, b)),
    "moved": max(float(np.abs(x - y).max()) for x, y in zip(a, init)),
    "loss": [one.rows[-1]["train_loss"], two.rows[-1]["train_loss"]],
    "val_acc": [one.rows[-1]["val_acc"], two.rows[-1]["val_acc"]],
    "steps": [[r["step"] for r in one.rows], [r["step"] for r in two.rows]]}))
"""


@pytest.mark.slow
def test_mirrored_over_two_cpu_devices_matches_one_device(cifar_tgz, tmp_path):
    spec = tmp_path / "tiny_nonorm.yaml"  # no BatchNorm: its statistics are per replica
    spec.write_text(TINY_NO_NORM)
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(spec), str(cifar_tgz), str(tmp_path)],
                         capture_output=True, text=True, timeout=600,
                         env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    assert out.returncode == 0, out.stderr[-3000:]
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["notes"] == [[], ["MirroredStrategy over 2 devices: CPU:0, CPU:1"]]
    assert r["steps"] == [[10, 20], [10, 20]]   # the global batch: 200 images / 20 per step
    assert r["moved"] > 1e-3                     # the weights trained (equal initial weights prove nothing)
    assert r["max_diff"] < 1e-5, r               # float rounding only: the two halves' gradients are summed
    assert r["loss"][1] == pytest.approx(r["loss"][0], rel=1e-5)
    assert r["val_acc"][1] == pytest.approx(r["val_acc"][0])


def test_devices_option_errors(cifar_tgz, tmp_path):
    with pytest.raises(TrainError, match="MirroredStrategy") as e:
        resdsl.train(TINY_NO_NORM, cifar_tgz, "torch", devices=["GPU:0"], out=tmp_path / "t", progress=False)
    assert "torchrun" in e.value.hint
    with pytest.raises(TrainError, match="no device 'GPU:7'") as e:
        resdsl.train(TINY_NO_NORM, cifar_tgz, "keras", epochs=1, batch_size=20, devices=["GPU:7"],
                     out=tmp_path / "k", progress=False)
    assert "CPU:0" in e.value.hint
