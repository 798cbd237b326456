"""Writes are atomic and polite: a temporary file then a rename, no overwriting a
file resdsl did not write unless forced, and a failure leaves the earlier file
as it was (and no temporary file behind)."""
from __future__ import annotations

import errno
import os
import stat

import pytest

from resdsl.cli import main
from resdsl.errors import OutputError
from resdsl.io import HEAD_BYTES, MARKER, atomic_write

OURS = f"# {MARKER} 0.1.0\nold = 1\n"


def leftovers(folder) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_new_file_gets_content_and_umask_mode(tmp_path):
    path = tmp_path / "out.py"
    assert atomic_write(path, OURS) == path
    assert path.read_text() == OURS
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
    assert leftovers(tmp_path) == []


def test_overwrites_its_own_file_and_keeps_its_mode(tmp_path):
    path = tmp_path / "out.py"
    path.write_text(OURS)
    path.chmod(0o600)
    atomic_write(path, OURS.replace("old", "new"))
    assert "new = 1" in path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_refuses_a_foreign_file_unless_forced(tmp_path):
    path = tmp_path / "mine.py"
    path.write_text("precious = True\n")
    with pytest.raises(OutputError, match="resdsl did not write it") as info:
        atomic_write(path, OURS)
    assert "--force" in info.value.hint
    assert path.read_text() == "precious = True\n"
    atomic_write(path, OURS, force=True)
    assert path.read_text() == OURS


def test_bytes_need_their_own_marker(tmp_path):
    path = tmp_path / "m.keras"
    path.write_bytes(b"PK\x03\x04 other zip")
    with pytest.raises(OutputError):
        atomic_write(path, b"PK\x03\x04 resdsl-keras", marker=b"resdsl-keras")
    path.write_bytes(b"PK\x03\x04 resdsl-keras v1")
    atomic_write(path, b"PK\x03\x04 resdsl-keras v2", marker=b"resdsl-keras")
    assert path.read_bytes().endswith(b"v2")


def test_dash_writes_to_stdout(capsys, tmp_path):
    atomic_write("-", OURS)
    assert capsys.readouterr().out == OURS
    assert list(tmp_path.iterdir()) == []


def test_directory_and_missing_folder_are_clear_errors(tmp_path):
    with pytest.raises(OutputError, match="is a directory"):
        atomic_write(tmp_path, OURS)
    with pytest.raises(OutputError, match="does not exist"):
        atomic_write(tmp_path / "nope" / "out.py", OURS)
    with pytest.raises(OutputError, match="cannot write"):
        atomic_write(tmp_path / "bad\x00name.py", OURS)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_unwritable_folder_is_a_clear_error(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(OutputError, match="Permission denied"):
            atomic_write(folder / "out.py", OURS)
    finally:
        folder.chmod(0o700)


def test_unwritable_folder_simulated(tmp_path, monkeypatch):
    """The same path for every user (the test suite may run as root)."""
    def refuse(*a, **k):
        raise PermissionError(errno.EACCES, "Permission denied")
    monkeypatch.setattr("tempfile.mkstemp", refuse)
    with pytest.raises(OutputError, match="Permission denied"):
        atomic_write(tmp_path / "out.py", OURS)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fail_in", ["write", "fsync", "replace"])
def test_disk_full_leaves_the_earlier_file_and_no_temporary(tmp_path, monkeypatch, fail_in):
    path = tmp_path / "out.py"
    path.write_text(OURS)

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    if fail_in == "write":
        real_fdopen = os.fdopen

        class Full:
            def __init__(self, f):
                self.f = f

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self.f.close()

            def write(self, data):
                self.f.write(data[: len(data) // 2])  # half of it lands, then the disk is full
                full()

        monkeypatch.setattr(os, "fdopen", lambda fd, mode: Full(real_fdopen(fd, mode)))
    else:
        monkeypatch.setattr(os, fail_in, full)
    with pytest.raises(OutputError, match="No space left"):
        atomic_write(path, OURS.replace("old", "new") * 100)
    assert path.read_text() == OURS
    assert leftovers(tmp_path) == []


def test_interrupt_leaves_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "out.py"
    path.write_text(OURS)

    def interrupted(*a):
        raise KeyboardInterrupt
    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, "new")
    assert path.read_text() == OURS and leftovers(tmp_path) == []


def test_symlink_is_written_through(tmp_path):
    real = tmp_path / "real.py"
    real.write_text(OURS)
    link = tmp_path / "link.py"
    link.symlink_to(real)
    atomic_write(link, OURS.replace("old", "new"))
    assert link.is_symlink() and "new = 1" in real.read_text()


def test_character_devices_are_written_in_place():
    atomic_write("/dev/null", OURS)
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


# ---- through the CLI ------------------------------------------------------------------

TINY = """\
resdsl: 1
name: tiny
input: {height: 16, width: 16, channels: 3}
stem: [{conv: {filters: 4, padding: 1}}, norm, act]
stages: [{block: basic, filters: 4, repeat: 1}]
head: [global_avgpool, {dense: {units: 3}}]
"""


@pytest.fixture
def spec(tmp_path):
    p = tmp_path / "tiny.yaml"
    p.write_text(TINY)
    return p


@pytest.mark.parametrize("backend", ["torch", "keras"])
def test_cli_compile_writes_refuses_and_forces(spec, tmp_path, capsys, backend):
    out = tmp_path / "tiny_net.py"
    assert main(["compile", str(spec), "--backend", backend, "-o", str(out)]) == 0
    first = out.read_text()
    assert MARKER.encode() in first.encode()[:HEAD_BYTES] and compile(first, str(out), "exec")
    assert main(["compile", str(spec), "--backend", backend, "-o", str(out)]) == 0  # ours: overwritten
    foreign = tmp_path / "foreign.py"
    foreign.write_text("x = 1\n")
    assert main(["compile", str(spec), "--backend", backend, "-o", str(foreign)]) == 1
    assert "refusing to overwrite" in capsys.readouterr().err
    assert foreign.read_text() == "x = 1\n"
    assert main(["compile", str(spec), "--backend", backend, "-o", str(foreign), "--force"]) == 0
    assert foreign.read_text() == first
    assert main(["compile", str(spec), "--backend", backend, "-o", "-"]) == 0
    assert capsys.readouterr().out == first
    assert leftovers(tmp_path) == []


def test_cli_failure_leaves_the_earlier_file(spec, tmp_path, capsys):
    out = tmp_path / "net.py"
    assert main(["compile", str(spec), "-o", str(out)]) == 0
    before = out.read_bytes()
    spec.write_text(TINY.replace("filters: 4, repeat", "filters: -4, repeat"))
    assert main(["compile", str(spec), "-o", str(out)]) == 1
    assert out.read_bytes() == before
    assert "Traceback" not in capsys.readouterr().err


def test_cli_render_is_atomic_and_polite(spec, tmp_path, capsys):
    out = tmp_path / "net.dot"
    assert main(["render", str(spec), "--format", "dot", "-o", str(out)]) == 0
    assert MARKER in out.read_text()
    assert main(["render", str(spec), "--format", "dot", "-o", str(out)]) == 0
    foreign = tmp_path / "foreign.dot"
    foreign.write_text("digraph {}\n")
    assert main(["render", str(spec), "--format", "dot", "-o", str(foreign)]) == 1
    assert foreign.read_text() == "digraph {}\n"
    assert main(["render", str(spec), "--format", "dot", "-o", "-"]) == 0
    assert "digraph" in capsys.readouterr().out
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("backend", ["torch", "keras"])
def test_recompiling_over_its_own_output_with_a_long_description(spec, tmp_path, backend):
    """The marker must stay where `compile` looks, even after 2,000 four-byte characters."""
    spec.write_text(TINY.replace("name: tiny", "name: tiny\ndescription: '" + "😀" * 2000 + "'"))
    out = tmp_path / "net.py"
    assert main(["compile", str(spec), "--backend", backend, "-o", str(out)]) == 0
    assert main(["compile", str(spec), "--backend", backend, "-o", str(out)]) == 0
