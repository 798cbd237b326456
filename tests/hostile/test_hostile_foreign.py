"""Only a file that starts with resdsl's own header is replaced without --force:
a file that merely mentions the marker is foreign. `-o ''` is a usage error;
`-o /dev/null` (any character device) discards the output. Every command with -o."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from resdsl.cli import main
from resdsl.io import HEADERS, MARKER, written_by_us

SPEC = Path(__file__).parents[2] / "specs" / "cifar_resnet20.yaml"

# Every command with -o: the header kind its output starts with, the command.
FAST = {
    "compile torch": ("py", ["compile", str(SPEC)]),
    "compile keras source": ("py", ["compile", str(SPEC), "--backend", "keras"]),
    "render svg": ("svg", ["render", str(SPEC)]),
    "render dot": ("dot", ["render", str(SPEC), "--format", "dot"]),
    "render png": ("png", ["render", str(SPEC), "--format", "png"]),
    "render pdf": ("pdf", ["render", str(SPEC), "--format", "pdf"]),
    "schema": ("json", ["schema"]),
}
BUILDING = {
    "compile .keras": ("keras", ["compile", str(SPEC), "--backend", "keras", "--format", "keras"], "keras"),
    "export onnx": ("onnx", ["export", str(SPEC), "--format", "onnx"], "onnx"),
}
ALL = {**FAST, **{k: v[:2] for k, v in BUILDING.items()}}


def needs(command: str) -> None:
    if command in BUILDING:
        pytest.importorskip(BUILDING[command][2])
        if command == "export onnx":
            pytest.importorskip("torch")


def _run(capsys, args) -> tuple[int, str]:
    code = main(args)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def foreign_versions(ours: bytes) -> dict[str, bytes]:
    """Files that are not resdsl's but mention its marker, or hold its whole output after something else."""
    return {
        "mentions the marker": b"precious = True  # " + MARKER.encode() + b" is a nice tool\n",
        "marker on line 2": b"precious = True\n# " + MARKER.encode() + b"\n",
        "our output after a line": b"# my notes\n" + ours,
        "our output after a space": b" " + ours,
        "marker as a later docstring": b"x = 1\n\"\"\"\n" + MARKER.encode() + b"\n\"\"\"\n",
    }


@pytest.mark.parametrize("command", list(ALL), ids=str)
def test_own_output_is_replaced_and_foreign_files_are_not(tmp_path, capsys, command):
    needs(command)
    kind, args = ALL[command]
    out = tmp_path / "out.bin"
    assert _run(capsys, args + ["-o", str(out)])[0] == 0
    ours = out.read_bytes()
    assert written_by_us(out) and HEADERS[kind](ours[:16384]), command
    assert _run(capsys, args + ["-o", str(out)])[0] == 0  # its own earlier output
    for why, data in foreign_versions(ours).items():
        out.write_bytes(data)
        assert not written_by_us(out), why
        code, err = _run(capsys, args + ["-o", str(out)])
        assert code == 1 and "refusing to overwrite" in err and "--force" in err, why
        assert out.read_bytes() == data, why
    assert _run(capsys, args + ["-o", str(out), "--force"])[0] == 0
    assert written_by_us(out)
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


@pytest.mark.parametrize("command", list(ALL), ids=str)
def test_an_empty_output_name_is_a_usage_error(tmp_path, monkeypatch, capsys, command):
    needs(command)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as info:
        main(ALL[command][1] + ["-o", ""])
    assert info.value.code == 2
    assert "argument -o/--output: the name is empty" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", list(ALL), ids=str)
def test_dev_null_discards(capsys, command):
    needs(command)
    code, err = _run(capsys, ALL[command][1] + ["-o", os.devnull])
    assert code == 0, err
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
def test_other_character_devices_discard_too(capsys):
    assert _run(capsys, ["render", str(SPEC), "--format", "dot", "-o", "/dev/zero"])[0] == 0
    assert _run(capsys, ["schema", "-o", "/dev/zero"])[0] == 0


def test_savedmodel_folders_need_our_marker_file(tmp_path, capsys):
    pytest.importorskip("tensorflow")
    folder = tmp_path / "sm"
    folder.mkdir()
    (folder / "resdsl.txt").write_text("my notes, not " + MARKER)  # mentions it; does not start with it
    code, err = _run(capsys, ["export", str(SPEC), "--format", "savedmodel", "-o", str(folder)])
    assert code == 1 and "refusing to overwrite" in err
    assert _run(capsys, ["export", str(SPEC), "--format", "savedmodel", "-o", os.devnull])[0] == 0


def test_training_run_folders_refuse_an_empty_name(capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", str(SPEC), "--data", "x", "--out", ""])
    assert info.value.code == 2
