"""Both trainers are one training: started from the same weights (ported), the
torch loop and the Keras fit path see the same batches in the same order with
the same augmentation, loss and learning-rate schedule — through the schedule's
drops, where Keras' and torch's SGD momentum differ unless reconciled — so
their curves agree to float rounding, not just in shape."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("keras")
import resdsl
from resdsl.training import keras_fit, torch_loop
from tests.training.train_data import TINY

OPTS = dict(batch_size=20, progress=False, epochs=2, preset="paper-cifar", device="cpu")


def test_torch_and_keras_trainers_agree_from_the_same_weights(cifar_tgz, tmp_path, monkeypatch):
    torch.manual_seed(0)
    start = resdsl.build(TINY, "torch").state_dict()
    build = torch_loop.build

    def torch_model(resolved):
        m = build(resolved)
        m.load_state_dict(start)
        return m

    keras_model = keras_fit._model

    def keras_from_torch(job, keras):
        m = keras_model(job, keras)
        resdsl.port_weights(torch_model(job.resolved), m)
        return m

    monkeypatch.setattr(torch_loop, "build", torch_model)
    monkeypatch.setattr(keras_fit, "_model", keras_from_torch)
    t = resdsl.train(TINY, cifar_tgz, "torch", out=tmp_path / "t", **OPTS)
    k = resdsl.train(TINY, cifar_tgz, "keras", out=tmp_path / "k", **OPTS)
    # the lr falls from 0.1 to 0.01 at step 10 and to 0.001 at step 15: epoch 2 crosses both drops
    assert [r["lr"] for r in t.rows] == [r["lr"] for r in k.rows] == pytest.approx([0.1, 0.001])
    for a, b in zip(t.rows, k.rows):
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=1e-3), (t.rows, k.rows)
        assert b["val_loss"] == pytest.approx(a["val_loss"], rel=1e-2), (t.rows, k.rows)
    from resdsl.backends.keras import load
    back = torch_model(resdsl.resolve(TINY))
    resdsl.port_weights(load(str(tmp_path / "k" / "model.keras")), back)
    ours = torch.load(tmp_path / "t" / "model.pt", weights_only=True)
    moved = max((ours[n] - start[n]).abs().max().item() for n in ours if ours[n].is_floating_point())
    apart = max((ours[n] - v).abs().max().item() for n, v in back.state_dict().items() if v.is_floating_point())
    assert moved > 1 and apart < 0.02 * moved, (moved, apart)
