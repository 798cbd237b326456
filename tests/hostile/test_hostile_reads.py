"""Reading a spec is bounded: a device, a FIFO with an endless writer and stdin
stop after `max_bytes` with a located `too-large`; a FIFO nobody writes to
blocks like `cat`, and Ctrl-C then exits 130 without a traceback."""
from __future__ import annotations

import errno
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import resdsl
from resdsl import Limits, SpecError
from resdsl.cli import main

SPEC = Path(__file__).parents[2] / "specs" / "cifar_resnet20.yaml"
LIMIT = resdsl.spec.DEFAULT_LIMITS.max_bytes
# A child that may not grow past this could not hold an unbounded read of /dev/zero.
CHILD_MEMORY = 1 << 30


def _cli(*args, stdin=None, input_bytes=None, memory=CHILD_MEMORY) -> subprocess.CompletedProcess:
    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    return subprocess.run([sys.executable, "-m", "resdsl", *args], stdin=stdin, input=input_bytes,
                          capture_output=True, timeout=120, preexec_fn=cap, check=False)


def _assert_too_large(err: str, where: str) -> None:
    assert f"{where}:1:1: error: the spec is larger than the limit of {LIMIT} bytes (reading stopped there) " \
           "[too-large]" in err
    assert "--limit max_bytes=N" in err and "Traceback" not in err


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
def test_dev_zero_stops_at_the_limit_in_little_memory():
    t0 = time.perf_counter()
    out = _cli("validate", "/dev/zero")
    assert out.returncode == 1 and time.perf_counter() - t0 < 60
    _assert_too_large(out.stderr.decode(), "/dev/zero")


def test_dev_zero_through_the_api_and_a_raised_limit():
    with pytest.raises(SpecError) as info:
        resdsl.load_spec(Path("/dev/zero"), Limits(max_bytes=5000))
    assert info.value.code == "too-large" and "limit of 5000 bytes" in info.value.first.message
    with pytest.raises(SpecError) as info:
        resdsl.load_spec("/dev/zero")
    assert info.value.code == "too-large"


@pytest.mark.parametrize("source", ["zero", "spec", "empty"])
def test_stdin_is_read_boundedly(source):
    if source == "zero":
        with open("/dev/zero", "rb") as zero:
            out = _cli("validate", "-", stdin=zero)
        assert out.returncode == 1
        _assert_too_large(out.stderr.decode(), "<stdin>")
    elif source == "spec":
        out = _cli("validate", "-", input_bytes=SPEC.read_bytes())
        assert out.returncode == 0 and out.stdout.decode().startswith("cifar_resnet20: ok")
    else:
        out = _cli("validate", "-", "--error-format", "json", input_bytes=b"")
        assert out.returncode == 1 and '"code": "empty-spec"' in out.stderr.decode()


def _endless_writer(fifo: Path, stop: threading.Event) -> threading.Thread:
    def write():
        fd = os.open(fifo, os.O_WRONLY)  # blocks until the reader opens it
        try:
            while not stop.is_set():
                os.write(fd, b"x: [" + b"1, " * 20_000 + b"]\n")
        except OSError as exc:  # the reader went away
            assert exc.errno == errno.EPIPE
        finally:
            os.close(fd)
    t = threading.Thread(target=write, daemon=True)
    t.start()
    return t


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs")
def test_fifo_with_an_endless_writer_stops_at_the_limit(tmp_path, capsys):
    fifo = tmp_path / "spec.yaml"
    os.mkfifo(fifo)
    stop = threading.Event()
    old = signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    try:
        writer = _endless_writer(fifo, stop)
        assert main(["validate", str(fifo)]) == 1
        stop.set()
        writer.join(10)
        assert not writer.is_alive()
    finally:
        signal.signal(signal.SIGPIPE, old)
    _assert_too_large(capsys.readouterr().err, str(fifo))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs")
def test_fifo_with_a_writer_that_finishes_is_read(tmp_path):
    fifo = tmp_path / "spec.yaml"
    os.mkfifo(fifo)

    def write():
        with open(fifo, "wb") as f:
            f.write(SPEC.read_bytes())
    t = threading.Thread(target=write, daemon=True)
    t.start()
    assert resdsl.resolve(str(fifo)).name == "cifar_resnet20"
    t.join(10)


def _blocked_in_open(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/wchan") as f:
            wchan = f.read()
    except OSError:
        return False
    return "partner" in wchan or "fifo" in wchan


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs")
def test_ctrl_c_on_a_fifo_without_a_writer_exits_130_without_a_traceback(tmp_path):
    fifo = tmp_path / "spec.yaml"
    os.mkfifo(fifo)
    p = subprocess.Popen([sys.executable, "-m", "resdsl", "validate", str(fifo)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not _blocked_in_open(p.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if not _blocked_in_open(p.pid):  # no /proc/PID/wchan here: give it time to reach the open
            time.sleep(5)
        assert p.poll() is None  # blocked like `cat`, not failed
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 130
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
