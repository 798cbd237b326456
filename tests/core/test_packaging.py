"""A non-editable install from a built wheel, in a fresh virtual environment, finds
the shipped specs by name and runs the CLI."""
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


@pytest.mark.slow
def test_wheel_installs_and_finds_shipped_specs(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(ROOT)],
                   check=True, capture_output=True)
    (wheel,) = wheels.glob("resdsl-*.whl")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", str(wheel)], check=True, capture_output=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = subprocess.run([str(py), "-c", "import resdsl; print(resdsl.__file__)"], cwd=elsewhere,
                           capture_output=True, text=True, check=True).stdout
    assert str(env_dir) in where  # the installed copy, not the checkout
    listed = subprocess.run([str(env_dir / "bin" / "resdsl"), "list"], cwd=elsewhere, capture_output=True,
                            text=True, check=True).stdout
    names = sorted(line.split()[0] for line in listed.splitlines())
    assert names == sorted(p.stem for p in (ROOT / "specs").glob("*.yaml"))
    out = subprocess.run([str(env_dir / "bin" / "resdsl"), "validate", "resnet50", "cifar10_resnet30"],
                         cwd=elsewhere, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "params 25,557,032 trainable" in out.stdout


def test_extras_keras_without_tensorflow_keras_tf_and_export():
    """`resdsl[keras]` runs Keras on torch or jax (no TensorFlow forced on it), `keras-tf` adds TensorFlow,
    and `export` brings ONNX and ONNX Runtime: the install lines the README and the error hints give."""
    tomllib = pytest.importorskip("tomllib")
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["optional-dependencies"]
    names = {k: {d.split(";")[0].split(">")[0].split("=")[0].split("[")[0].strip() for d in v}
             for k, v in extras.items()}
    assert names["keras"] == {"keras"}
    assert "resdsl" in names["keras-tf"] and names["keras-tf"] & {"tensorflow", "tensorflow-cpu"}
    assert {"onnx", "onnxruntime"} <= names["export"] and "torch" in names["torch"]
