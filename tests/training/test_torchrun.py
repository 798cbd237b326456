"""Data-parallel training under torchrun: 2 CPU processes on gloo end with the
same weights as one process on the same global batch."""
from __future__ import annotations

import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")
import resdsl
from resdsl.training.compare import load_history
from tests.training.train_data import TINY_NO_NORM


@pytest.mark.slow
def test_two_processes_match_one(cifar_tgz, tmp_path):
    spec = tmp_path / "tiny_nonorm.yaml"
    spec.write_text(TINY_NO_NORM)
    args = ["train", str(spec), "--data", str(cifar_tgz), "--epochs", "2", "--batch-size", "20", "--device", "cpu"]
    one = resdsl.train(spec, cifar_tgz, "torch", epochs=2, batch_size=20, device="cpu", out=tmp_path / "one",
                       progress=False)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "resdsl", *args, "--out", str(tmp_path / "two")]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600,
                         env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})
    assert out.returncode == 0, out.stderr[-3000:]
    a = torch.load(tmp_path / "one" / "model.pt", weights_only=True)
    b = torch.load(tmp_path / "two" / "model.pt", weights_only=True)
    assert set(a) == set(b)
    for k in a:
        torch.testing.assert_close(b[k], a[k], rtol=1e-4, atol=1e-5, msg=k)
    # the weights moved (a test of equal untrained weights would prove nothing)
    init = resdsl.build(spec, "torch").state_dict()
    assert any((a[k] - init[k]).abs().max() > 1e-3 for k in a if a[k].is_floating_point())
    # rank 0 alone wrote the metrics, with the whole data set counted once
    two = load_history(tmp_path / "two")
    assert [r["step"] for r in two.rows] == [r["step"] for r in one.rows] == [10, 20]
    assert two.rows[-1]["train_loss"] == pytest.approx(one.rows[-1]["train_loss"], rel=1e-4)
    assert two.rows[-1]["val_acc"] == pytest.approx(one.rows[-1]["val_acc"])
