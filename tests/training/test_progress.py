"""Progress off a terminal: `resdsl train` and `compare` into a pipe write one
line per epoch (as Keras' fit(verbose=2)), not every refresh of a bar; on a
terminal the bar stays."""
from __future__ import annotations

import io
import os
import re
import subprocess
import sys

import pytest

pytest.importorskip("tqdm")
from resdsl.training.progress import EpochBar
from tests.training.train_data import TINY

LINE = re.compile(r"^tiny(_plain)? epoch (\d)/3 - 5/5 steps - [\d.]+s - loss \d+\.\d{4} - acc \d\.\d{4} - "
                  r"val_loss \d+\.\d{4} val_acc \d\.\d{4} - [\d,]+ img/s$")


def _run(*args, cwd):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")  # TensorFlow's start-up notices are not ours
    return subprocess.run([sys.executable, "-m", "resdsl", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=600, env=env)


@pytest.mark.parametrize("backend", ["torch", "keras"])
def test_train_into_a_pipe_writes_one_line_per_epoch(backend, cifar_tgz, tmp_path):
    pytest.importorskip(backend)
    (tmp_path / "tiny.yaml").write_text(TINY)
    # 200 training images in batches of 40: 5 steps an epoch
    out = _run("train", "tiny.yaml", "--data", cifar_tgz, "--backend", backend, "--epochs", 3, "--batch-size", 40,
               "--out", tmp_path / "run", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "\r" not in out.stderr + out.stdout
    epochs = [line for line in out.stderr.splitlines() if " epoch " in line]
    assert [LINE.match(line)[2] for line in epochs] == ["1", "2", "3"], out.stderr
    assert len(out.stdout.splitlines()) == 1 and "final val acc" in out.stdout


def test_compare_into_a_pipe_names_each_run(cifar_tgz, tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("matplotlib")
    (tmp_path / "tiny.yaml").write_text(TINY)
    (tmp_path / "tiny_plain.yaml").write_text(TINY.replace("name: tiny", "name: tiny_plain")
                                              .replace("repeat: 1}", "repeat: 1, shortcut: none}"))
    out = _run("compare", "tiny.yaml", "tiny_plain.yaml", "--data", cifar_tgz, "--epochs", 3, "--batch-size", 40,
               "--out", tmp_path / "cmp", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "\r" not in out.stderr + out.stdout
    epochs = [LINE.match(line) for line in out.stderr.splitlines() if " epoch " in line]
    assert [(m[1] or "", m[2]) for m in epochs] == [("", "1"), ("", "2"), ("", "3"),
                                                    ("_plain", "1"), ("_plain", "2"), ("_plain", "3")]


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_on_a_terminal_the_bar_stays_and_off_it_one_line():
    tty, pipe = _Terminal(), io.StringIO()
    for stream in (tty, pipe):
        bar = EpochBar(0, 3, 4, enabled=True, name="net", stream=stream)
        for _ in range(4):
            bar.update(8, 1.5, 0.25)
        bar.close("val_loss 1.0000 val_acc 0.5000")
    assert "\r" in tty.getvalue() and "4/4" in tty.getvalue()  # tqdm's bar, redrawn in place
    assert pipe.getvalue().count("\n") == 1 and "\r" not in pipe.getvalue()
    assert pipe.getvalue().startswith("net epoch 1/3 - 4/4 steps - ")
    assert " - loss 1.5000 - acc 0.2500 - val_loss 1.0000 val_acc 0.5000 - " in pipe.getvalue()
    quiet = io.StringIO()
    bar = EpochBar(0, 3, 4, enabled=False, stream=quiet)
    bar.update(8, 1.5, 0.25)
    bar.close("x")
    assert quiet.getvalue() == ""
