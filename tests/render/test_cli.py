"""`resdsl render` as a user runs it: in a fresh process, with and without Graphviz."""
from __future__ import annotations

import subprocess
import sys

from resdsl.io import MARKER
from tests.helpers.svg import TINY


def _run(args, tmp_path, env=None, timeout=120):
    return subprocess.run([sys.executable, "-m", "resdsl", *args], check=False, capture_output=True, text=True,
                          cwd=tmp_path, env=env, timeout=timeout)


def test_render_imports_no_framework(tmp_path):
    code = ("import sys; from resdsl.cli import main; "
            f"rc = main(['render', {TINY!r}, '-o', 'x.svg', '--level', 'layer']); "
            "print(rc, sorted(m for m in ('torch', 'tensorflow', 'keras') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True,
                         cwd=tmp_path, timeout=120)
    assert out.stdout.strip() == "0 []", out.stderr
    assert (tmp_path / "x.svg").read_bytes()[:4096].count(MARKER.encode()) == 1


def test_missing_graphviz_is_a_clear_error_and_keeps_the_dot_source(tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    out = _run(["render", TINY, "-o", "net.svg"], tmp_path, env={"PATH": str(empty), "HOME": str(tmp_path)})
    assert out.returncode == 1
    assert "Traceback" not in out.stderr
    assert "`dot` program was not found" in out.stderr
    assert "apt install graphviz" in out.stderr and "brew install graphviz" in out.stderr
    assert "'net.dot'" in out.stderr
    assert not (tmp_path / "net.svg").exists()
    assert (tmp_path / "net.dot").read_text().startswith(f"// {MARKER}")


def test_too_large_layer_view_fails_fast_with_advice(tmp_path):
    out = _run(["render", "cifar_resnet1202", "--level", "layer"], tmp_path, timeout=60)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "--level stage or --level block" in out.stderr and "--max-nodes" in out.stderr
    assert not list(tmp_path.iterdir())


def test_cli_options_reach_the_renderer(tmp_path):
    out = _run(["render", "resnet18", "--level", "block", "--expand", "--format", "dot", "-o", "-"], tmp_path)
    assert out.returncode == 0, out.stderr
    assert 'id="layer1.1"' in out.stdout and out.stdout.startswith(f"// {MARKER}")
    out = _run(["render", TINY], tmp_path)
    assert out.returncode == 0 and (tmp_path / "tiny.svg").exists() and "wrote tiny.svg" in out.stderr


def test_cli_refuses_to_overwrite_a_foreign_file(tmp_path):
    (tmp_path / "tiny.svg").write_text("<svg>mine</svg>")
    out = _run(["render", TINY], tmp_path)
    assert out.returncode == 1 and "refusing to overwrite 'tiny.svg'" in out.stderr and "--force" in out.stderr
    assert _run(["render", TINY, "--force"], tmp_path).returncode == 0
