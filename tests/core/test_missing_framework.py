"""A build without its framework says which extra to install (the framework is
hidden in a fresh interpreter: `sys.modules[name] = None` makes its import fail)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(hide: list[str], code: str, env: dict | None = None):
    prelude = "import sys\n" + "".join(f"sys.modules[{m!r}] = None\n" for m in hide)
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-c", prelude + code], capture_output=True, text=True,
                          env=full_env, timeout=120)


BUILD = ("import resdsl\n"
         "try:\n"
         "    resdsl.build('cifar_resnet20', backend={backend!r})\n"
         "except ModuleNotFoundError as exc:\n"
         "    print(type(exc).__name__, exc.name, '|', exc)\n")


def test_torch_missing():
    done = _run(["torch"], BUILD.format(backend="torch"))
    assert done.stdout.strip() == ("MissingFramework torch | the torch backend needs torch, which is not "
                                   "installed: pip install 'resdsl[torch]'"), done.stderr


def test_keras_missing():
    done = _run(["keras"], BUILD.format(backend="keras"))
    assert done.stdout.strip() == ("MissingFramework keras | the keras backend needs keras, which is not "
                                   "installed: pip install 'resdsl[keras]'"), done.stderr


def test_keras_backend_missing():
    done = _run(["tensorflow"], BUILD.format(backend="keras"), {"KERAS_BACKEND": "tensorflow"})
    out = done.stdout.strip()
    assert out.startswith("MissingFramework tensorflow | Keras is installed but its backend 'tensorflow' is not"), \
        done.stdout + done.stderr
    assert "pip install 'resdsl[keras-tf]'" in out and "KERAS_BACKEND" in out


def test_cli_compile_keras_file_without_keras(tmp_path):
    out = tmp_path / "m.keras"
    done = _run(["keras"], "from resdsl.cli import main\n"
                f"sys.exit(main(['compile', 'cifar_resnet20', '--backend', 'keras', '--format', 'keras', "
                f"'-o', {str(out)!r}]))\n")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "the keras backend needs keras, which is not installed" in done.stderr
    assert "pip install 'resdsl[keras]'" in done.stderr and not out.exists()


def test_export_savedmodel_without_tensorflow(tmp_path):
    """Keras on torch (resdsl[keras]) has no TensorFlow: a SavedModel export says which extra brings it."""
    out = tmp_path / "sm"
    done = _run(["tensorflow"], "from resdsl.cli import main\n"
                f"sys.exit(main(['export', 'cifar_resnet20', '--format', 'savedmodel', '-o', {str(out)!r}]))\n",
                {"KERAS_BACKEND": "torch"})
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert "exporting needs tensorflow, which is not installed" in done.stderr
    assert "pip install 'resdsl[keras-tf]'" in done.stderr and not out.exists()
