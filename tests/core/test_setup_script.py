"""scripts/setup.sh on machines without sudo: as root it runs apt-get directly;
otherwise it says what to install instead of failing with 'sudo: command not
found'. PATH holds only stubs, so nothing is really installed."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BASH = shutil.which("bash") or pytest.skip("no bash")


def _stub(bin_dir: Path, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text(f"#!{BASH}\n{body}\n")
    path.chmod(0o755)


def _setup(tmp_path, uid: int, apt: bool = True):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    os.symlink(shutil.which("dirname"), bin_dir / "dirname")
    _stub(bin_dir, "id", f"echo {uid}")
    if apt:
        # Records its arguments, then stops the script (set -e) before anything is installed.
        _stub(bin_dir, "apt-get", f'echo "$@" >> {tmp_path / "apt.log"}; exit 3')
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path)}
    return subprocess.run([BASH, str(ROOT / "scripts" / "setup.sh")], capture_output=True, text=True,
                          env=env, timeout=60)


def test_root_without_sudo_runs_apt_get_directly(tmp_path):
    done = _setup(tmp_path, 0)
    assert "sudo" not in done.stderr
    assert (tmp_path / "apt.log").read_text().splitlines() == ["update -qq"]
    assert done.returncode == 3  # the stub's status: apt-get itself was run


def test_user_without_sudo_is_told_what_to_install(tmp_path):
    done = _setup(tmp_path, 1000)
    assert done.returncode == 1 and "command not found" not in done.stderr
    assert "there is no sudo" in done.stderr and "apt-get install graphviz" in done.stderr
    assert not (tmp_path / "apt.log").exists()


def test_no_apt_get(tmp_path):
    done = _setup(tmp_path, 0, apt=False)
    assert done.returncode == 1 and "command not found" not in done.stderr
    assert "not a Debian system" in done.stderr
