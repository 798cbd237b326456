"""A full (or failing) disk is never a success: every write error of every -o
command exits 1 naming the cause ("No space left on device"), prints no
"wrote", and leaves neither the target nor a temporary file; an earlier file
stays as it was. Tested for real (/dev/full, a tiny tmpfs when the tests may
mount one) and by injecting the error at each step of the atomic write."""
from __future__ import annotations

import errno
import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from resdsl.cli import main
from resdsl.errors import OutputError
from resdsl.io import MARKER, atomic_write

SPEC = Path(__file__).parents[2] / "specs" / "cifar_resnet20.yaml"
BIG = Path(__file__).parents[2] / "specs" / "resnet50.yaml"
OURS = f"# {MARKER} 0.1.0\nold = 1\n"
ERRNOS = [errno.ENOSPC, errno.EIO, errno.EDQUOT, errno.EROFS]
STEPS = ["mkstemp", "write", "fsync", "close", "chmod", "replace"]

# Every command with -o that needs no framework, then those that build one.
COMMANDS = {
    "compile torch": ["compile", str(SPEC)],
    "compile keras source": ["compile", str(SPEC), "--backend", "keras"],
    "render svg": ["render", str(SPEC)],
    "render dot": ["render", str(SPEC), "--format", "dot"],
    "render png": ["render", str(SPEC), "--format", "png"],
    "schema": ["schema"],
}
BUILDING = {
    "compile .keras": ["compile", str(SPEC), "--backend", "keras", "--format", "keras"],
    "export onnx": ["export", str(SPEC), "--format", "onnx"],
}


def files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def inject(monkeypatch, step: str, code: int) -> None:
    """Make `step` of atomic_write fail with `code`, as the system would."""
    def fail(*_a, **_k):
        raise OSError(code, os.strerror(code))
    if step == "mkstemp":
        monkeypatch.setattr(tempfile, "mkstemp", fail)
    elif step == "write":
        real = os.write

        def half_then_fail(fd, data):
            real(fd, bytes(data[: max(1, len(data) // 2)]))  # part of it lands first
            fail()
        monkeypatch.setattr(os, "write", half_then_fail)
    elif step == "close":  # NFS and quotas may report a lost write only at close; the fd is closed anyway
        real_mkstemp, real_close, ours = tempfile.mkstemp, os.close, set()

        def mkstemp(*a, **k):
            fd, name = real_mkstemp(*a, **k)
            ours.add(fd)
            return fd, name

        def close(fd):
            real_close(fd)
            if fd in ours:
                ours.discard(fd)
                fail()
        monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
        monkeypatch.setattr(os, "close", close)
    else:
        monkeypatch.setattr(os, step, fail)


@pytest.mark.parametrize("code", ERRNOS, ids=errno.errorcode.get)
@pytest.mark.parametrize("step", STEPS)
def test_a_failing_step_keeps_the_earlier_file_and_leaves_no_temporary(tmp_path, monkeypatch, step, code):
    path = tmp_path / "out.py"
    path.write_text(OURS)
    inject(monkeypatch, step, code)
    with pytest.raises(OutputError) as info:
        atomic_write(path, OURS.replace("old", "new") * 1000)
    monkeypatch.undo()
    assert str(info.value) == f"cannot write '{path}': {os.strerror(code)}"
    assert path.read_text() == OURS and files(tmp_path) == ["out.py"]


@pytest.mark.parametrize("step", STEPS)
def test_a_failing_step_leaves_no_new_file(tmp_path, monkeypatch, step):
    inject(monkeypatch, step, errno.ENOSPC)
    with pytest.raises(OutputError, match="No space left on device"):
        atomic_write(tmp_path / "new.py", OURS * 1000)
    monkeypatch.undo()
    assert files(tmp_path) == []


def _cli_fails(capsys, args: list[str], cause: str) -> str:
    assert main(args) == 1
    err = capsys.readouterr().err
    assert cause in err and "wrote" not in err and "Traceback" not in err
    return err


@pytest.mark.parametrize("command", list(COMMANDS), ids=str)
@pytest.mark.parametrize("step", ["write", "fsync", "close", "replace"])
def test_every_command_reports_a_full_disk(tmp_path, monkeypatch, capsys, command, step):
    earlier, new = tmp_path / "earlier.out", tmp_path / "new.out"
    assert main(COMMANDS[command] + ["-o", str(earlier)]) == 0
    before = earlier.read_bytes()
    capsys.readouterr()
    inject(monkeypatch, step, errno.ENOSPC)
    _cli_fails(capsys, COMMANDS[command] + ["-o", str(earlier)], "No space left on device")
    _cli_fails(capsys, COMMANDS[command] + ["-o", str(new)], "No space left on device")
    monkeypatch.undo()
    assert earlier.read_bytes() == before and files(tmp_path) == ["earlier.out"]


@pytest.mark.parametrize("command", list(BUILDING), ids=str)
def test_commands_that_build_report_a_full_disk(tmp_path, monkeypatch, capsys, command):
    if command == "export onnx":
        pytest.importorskip("onnx")
        pytest.importorskip("torch")
    else:
        pytest.importorskip("keras")
    inject(monkeypatch, "fsync", errno.ENOSPC)
    _cli_fails(capsys, BUILDING[command] + ["-o", str(tmp_path / "m.bin")], "No space left on device")
    monkeypatch.undo()
    assert files(tmp_path) == []


def test_a_full_temporary_folder_elsewhere_is_an_error_too(monkeypatch, capsys, tmp_path):
    """A backend writing to its own scratch space (/tmp) meets a full disk there: one line, exit 1."""
    import resdsl.backends.torch as backend

    def scratch_full(*_a, **_k):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/tmp/resdsl-scratch")
    monkeypatch.setattr(backend, "emit", scratch_full)
    err = _cli_fails(capsys, ["compile", str(SPEC), "-o", str(tmp_path / "x.py")], "No space left on device")
    assert "'/tmp/resdsl-scratch'" in err and files(tmp_path) == []
    monkeypatch.undo()
    assert main(["--error-format", "json", "compile", str(SPEC), "-o", "/dev/full"]) == 1
    assert '"code": "output-error"' in capsys.readouterr().err


# ---- for real ----------------------------------------------------------------------

@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
@pytest.mark.parametrize("command", list(COMMANDS), ids=str)
def test_dev_full(capsys, command):
    _cli_fails(capsys, COMMANDS[command] + ["-o", "/dev/full"], "cannot write '/dev/full': No space left on device")


@pytest.fixture
def tiny_fs(tmp_path):
    """A 64 KiB tmpfs, where the tests may mount one (root, and mount allowed)."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)], capture_output=True,
                          check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def test_a_really_full_file_system(tiny_fs, capsys):
    earlier = tiny_fs / "net.py"
    assert main(["compile", str(SPEC), "-o", str(earlier)]) == 0
    before = earlier.read_bytes()
    fd = os.open(tiny_fs / "filler", os.O_WRONLY | os.O_CREAT)
    try:  # take all the space that is left, then give back room for a little, not a module
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    os.ftruncate(fd, max(0, os.fstat(fd).st_size - 4096))
    os.close(fd)
    capsys.readouterr()
    for target in (earlier, tiny_fs / "other.py"):
        _cli_fails(capsys, ["compile", str(BIG), "-o", str(target)], "No space left on device")
        _cli_fails(capsys, ["render", str(BIG), "--level", "layer", "--format", "dot", "-o", str(target)],
                   "No space left on device")
    _cli_fails(capsys, ["schema", "-o", str(tiny_fs / "s.json")], "No space left on device")
    assert earlier.read_bytes() == before and files(tiny_fs) == ["filler", "net.py"]
