"""`resdsl export`: ONNX from the torch build (dynamic batch, equal in ONNX
Runtime), a SavedModel from the Keras build (reloaded and equal), weights from
a state_dict or a .keras file, and compile's no-clobber rules."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

import resdsl
from resdsl.cli import main

SPEC = "cifar_resnet20"


@pytest.fixture(scope="module")
def trained(tmp_path_factory, randomise_norms):
    """A torch model with non-trivial weights and its state_dict file."""
    m = resdsl.build(SPEC, backend="torch").eval()
    randomise_norms(m)
    path = tmp_path_factory.mktemp("w") / "w.pt"
    torch.save(m.state_dict(), path)
    return m, path


def batch(n, h=32, w=32, seed=0):
    return np.random.default_rng(seed).standard_normal((n, 3, h, w)).astype("float32")


def test_onnx_matches_torch_within_1e5_with_a_dynamic_batch(tmp_path, trained, capsys):
    model, weights = trained
    out = tmp_path / "m.onnx"
    assert main(["export", SPEC, "--format", "onnx", "-o", str(out), "--weights", str(weights)]) == 0
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    for n, h, w in [(1, 32, 32), (5, 32, 32), (2, 97, 131)]:
        x = batch(n, h, w, seed=n)
        with torch.no_grad():
            ref = model(torch.from_numpy(x)).numpy()
        got = sess.run(None, {"input": x})[0]
        assert got.shape == (n, 10)
        assert np.abs(got - ref).max() <= 1e-5 * max(1.0, np.abs(ref).max())
    assert f"wrote {out}" in capsys.readouterr().err


def test_export_refuses_to_overwrite_a_file_it_did_not_write(tmp_path, capsys):
    out = tmp_path / "m.onnx"
    out.write_bytes(b"precious")
    assert main(["export", SPEC, "--format", "onnx", "-o", str(out)]) == 1
    assert out.read_bytes() == b"precious"
    assert "refusing to overwrite" in capsys.readouterr().err
    assert main(["export", SPEC, "--format", "onnx", "-o", str(out), "--force"]) == 0
    assert main(["export", SPEC, "--format", "onnx", "-o", str(out)]) == 0  # ours now: no --force needed


def test_weights_that_do_not_fit_are_a_clear_error(tmp_path, capsys):
    w = tmp_path / "w.pt"
    torch.save(resdsl.build("cifar_resnet32", backend="torch").state_dict(), w)
    out = tmp_path / "m.onnx"
    assert main(["export", SPEC, "--format", "onnx", "-o", str(out), "--weights", str(w)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("resdsl: error: weights") and "Traceback" not in err and not out.exists()


def test_savedmodel_reloads_and_matches(tmp_path, trained):
    tf = pytest.importorskip("tensorflow")
    model, weights = trained
    out = tmp_path / "sm"
    assert main(["export", SPEC, "--format", "savedmodel", "-o", str(out), "--weights", str(weights)]) == 0
    loaded = tf.saved_model.load(str(out))
    x = batch(3, 40, 36, seed=3)
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    got = loaded.serve(tf.constant(x.transpose(0, 2, 3, 1))).numpy()
    assert np.abs(got - ref).max() <= 1e-4 * max(1.0, np.abs(ref).max())
    # a folder resdsl did not write is left alone
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep.txt").write_text("x")
    assert main(["export", SPEC, "--format", "savedmodel", "-o", str(other)]) == 1
    assert (other / "keep.txt").read_text() == "x"


@pytest.mark.slow
def test_tflite_runs_and_matches(tmp_path, trained):
    tf = pytest.importorskip("tensorflow")
    model, weights = trained
    out = tmp_path / "m.tflite"
    assert main(["export", SPEC, "--format", "tflite", "-o", str(out), "--weights", str(weights)]) == 0
    it = tf.lite.Interpreter(model_path=str(out))
    inp = it.get_input_details()[0]
    it.resize_tensor_input(inp["index"], [2, 32, 32, 3])
    it.allocate_tensors()
    x = batch(2, seed=7)
    it.set_tensor(inp["index"], x.transpose(0, 2, 3, 1).copy())
    it.invoke()
    got = it.get_tensor(it.get_output_details()[0]["index"])
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    assert np.abs(got - ref).max() <= 1e-4 * max(1.0, np.abs(ref).max())


@pytest.mark.slow
def test_weights_from_a_keras_file(tmp_path, trained):
    """--weights takes a .keras file too: ported into the torch build for ONNX, loaded as is for a SavedModel."""
    keras = pytest.importorskip("keras")
    model, _ = trained
    k = resdsl.build(SPEC, backend="keras")
    resdsl.port_weights(model, k)
    saved = tmp_path / "w.keras"
    k.save(saved)
    out = tmp_path / "k.onnx"
    assert main(["export", SPEC, "--format", "onnx", "-o", str(out), "--weights", str(saved)]) == 0
    x = batch(3, seed=11)
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    got = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    assert np.abs(got - ref).max() <= 1e-4 * max(1.0, np.abs(ref).max())
    assert np.abs(ref).max() > 0.1 and keras  # a network whose output is not ~0 whatever the weights
    tf = pytest.importorskip("tensorflow")
    sm = tmp_path / "k_sm"
    assert main(["export", SPEC, "--format", "savedmodel", "-o", str(sm), "--weights", str(saved)]) == 0
    loaded = tf.saved_model.load(str(sm))  # kept: its variables die with it
    got = loaded.serve(tf.constant(x.transpose(0, 2, 3, 1))).numpy()
    assert np.abs(got - ref).max() <= 1e-4 * max(1.0, np.abs(ref).max())
