"""The torch loop: it learns, writes its files, and resumes bit for bit — from an
epoch boundary and from a Ctrl-C in the middle of an epoch."""
from __future__ import annotations

import csv
import json
import os
import signal

import pytest

torch = pytest.importorskip("torch")
import resdsl
from resdsl.training import Interrupted, TrainError
from tests.training.train_data import TINY

OPTS = dict(batch_size=20, progress=False, preset="paper-cifar")


def _weights(run_dir):
    return torch.load(run_dir / "model.pt", weights_only=True)


def _metrics(rows):  # everything but the timings
    return [{k: v for k, v in r.items() if k not in ("epoch_time_s", "images_per_s")} for r in rows]


def test_learns_and_writes_its_files(cifar_tgz, tmp_path):
    h = resdsl.train(TINY, cifar_tgz, "torch", epochs=3, out=tmp_path / "run", **OPTS)
    losses = [r["train_loss"] for r in h.rows]
    assert losses[-1] < losses[0] * 0.8, losses
    assert h.rows[-1]["step"] == 30 and h.rows[-1]["lr"] == pytest.approx(0.001)  # /10 at 15, again at 22
    with open(tmp_path / "run" / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())[-1]["val_acc"] == h.final_val_acc
    assert set(_weights(tmp_path / "run")) == set(resdsl.build(TINY, "torch").state_dict())
    assert not list((tmp_path / "run").glob("*.tmp"))


def test_resume_after_an_epoch_gives_the_same_weights(cifar_tgz, tmp_path):
    full = resdsl.train(TINY, cifar_tgz, "torch", epochs=2, out=tmp_path / "full", **OPTS)
    stop_at = 10  # the end of epoch 1

    def ctrl_c(step):
        if step == stop_at:
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(Interrupted, match="epoch 1, step 10|epoch 2, step 0"):
        resdsl.train(TINY, cifar_tgz, "torch", epochs=2, out=tmp_path / "cut", on_step=ctrl_c, **OPTS)
    again = resdsl.train(TINY, cifar_tgz, "torch", epochs=2, out=tmp_path / "cut", resume=True, **OPTS)
    a, b = _weights(tmp_path / "full"), _weights(tmp_path / "cut")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert _metrics(again.rows) == _metrics(full.rows)


def test_ctrl_c_mid_epoch_then_resume_is_bit_for_bit(cifar_tgz, tmp_path):
    full = resdsl.train(TINY, cifar_tgz, "torch", epochs=2, out=tmp_path / "full", **OPTS)

    def ctrl_c(step):
        if step == 14:  # epoch 2, step 4 of 10
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(Interrupted, match="epoch 2, step 4"):
        resdsl.train(TINY, cifar_tgz, "torch", epochs=2, out=tmp_path / "cut", on_step=ctrl_c, **OPTS)
    assert _metrics(json.loads((tmp_path / "cut" / "metrics.json").read_text())) == _metrics(full.rows[:1])
    again = resdsl.train(TINY, cifar_tgz, "torch", epochs=2, out=tmp_path / "cut", resume=True, **OPTS)
    a, b = _weights(tmp_path / "full"), _weights(tmp_path / "cut")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert _metrics(again.rows) == _metrics(full.rows)


def test_run_folder_rules(cifar_tgz, tmp_path):
    with pytest.raises(TrainError, match="nothing to resume"):
        resdsl.train(TINY, cifar_tgz, "torch", epochs=1, out=tmp_path / "r", resume=True, **OPTS)
    resdsl.train(TINY, cifar_tgz, "torch", epochs=1, out=tmp_path / "r", **OPTS)
    with pytest.raises(TrainError, match="already holds a run"):
        resdsl.train(TINY, cifar_tgz, "torch", epochs=1, out=tmp_path / "r", **OPTS)
    with pytest.raises(TrainError, match="batch_size was 20, now 40"):
        resdsl.train(TINY, cifar_tgz, "torch", epochs=1, out=tmp_path / "r", resume=True,
                     **{**OPTS, "batch_size": 40})


def test_amp_on_cpu_falls_back_to_float32(cifar_tgz, tmp_path):
    h = resdsl.train(TINY, cifar_tgz, "torch", epochs=1, out=tmp_path / "amp", amp=True, device="cpu",
                     **{**OPTS, "preset": "adam"})
    assert h.notes == ["--amp needs a CUDA GPU; trained in float32"]
    # the same code path as a float32 run: the same numbers, to the bit
    plain = resdsl.train(TINY, cifar_tgz, "torch", epochs=1, out=tmp_path / "fp32", device="cpu",
                         **{**OPTS, "preset": "adam"})
    assert plain.notes == [] and _metrics(h.rows) == _metrics(plain.rows)
    a, b = _weights(tmp_path / "amp"), _weights(tmp_path / "fp32")
    assert all(torch.equal(a[k], b[k]) for k in a)
