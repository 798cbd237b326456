"""The one-way dependency rule of the design notes (tests/core/layering.py
holds the checker and the rule): each layer imports only the layers below it;
no module imports the package root (which imports most of resdsl: `__version__`
lives in resdsl/version.py); backend packages never import each other; no two
modules import each other, directly or round a longer circle, even inside
functions; and no framework import where none is needed. The checker is first
shown to fail on synthetic trees that break each rule."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.core.layering import cycles, violations

PKG = Path(__file__).parents[2] / "resdsl"
FRAMEWORKS = {"torch", "tensorflow", "keras", "torchvision"}

# A small tree shaped like resdsl, that keeps the rules: the control case.
CLEAN = {
    "__init__.py": "from .ir import resolve\n",
    "__main__.py": "from . import cli\n",
    "vocab.py": "", "version.py": "", "errors.py": "import re\n",
    "spec/__init__.py": "from ..errors import x\nfrom .. import vocab\n",
    "ir/__init__.py": "from ..spec import y\nfrom resdsl.errors import z\n",
    "backends/__init__.py": "import importlib\nfrom ..vocab import BACKENDS\n",
    "backends/common.py": "from ..ir import Resolved\n",
    "backends/torch/__init__.py": "from ..common import unsupported\nfrom . import ops\n",
    "backends/torch/ops.py": "from ...ir import OPS\n",
    "backends/keras/__init__.py": "from .. import common\n",
    "backends/keras/emit.py": "from ...ir.ops import OPS\nfrom ..common import fingerprint\n",
    "backends/port/__init__.py": "def f():\n    from ..keras import emit\n    from ..torch import ops\n",
    "render/__init__.py": "from ..ir import fmt\n",
    "training/__init__.py": "from ..backends import torch\n",
    "cli.py": "from .training import fit\nfrom .render import render\n",
}

# Each case breaks one rule: (file, its text, what the report must say).
BROKEN = [
    ("backends/keras/emit.py", "from ..torch import ops\n", "backend keras imports resdsl.backends.torch.ops"),
    ("backends/keras/emit.py", "from .. import torch\n", "backend keras imports resdsl.backends.torch"),
    ("backends/torch/ops.py", "def later():\n    import resdsl.backends.keras.emit\n",
     "backend torch imports resdsl.backends.keras.emit"),
    ("backends/torch/ops.py", "from ..port import f\n", "backend torch imports resdsl.backends.port"),
    ("backends/common.py", "from .torch import ops\n", "the shared module resdsl.backends.common imports"),
    ("errors.py", "from .spec import y\n", "layer errors imports resdsl.spec"),
    ("spec/__init__.py", "from ..ir import resolve\n", "layer spec imports resdsl.ir"),
    ("ir/__init__.py", "from ..backends import torch\n", "layer ir imports resdsl.backends.torch"),
    ("ir/__init__.py", "from ..render import x\n", "layer ir imports resdsl.render"),
    ("render/__init__.py", "from ..backends.torch import ops\n", "layer render imports resdsl.backends.torch.ops"),
    ("backends/torch/ops.py", "from ...training import fit\n", "layer backends imports resdsl.training"),
    ("training/__init__.py", "from .. import cli\n", "layer training imports resdsl.cli"),
    ("ir/__init__.py", "import resdsl\n", "imports the package root (resdsl)"),
    ("render/__init__.py", "from resdsl import resolve\n", "imports the package root (resdsl)"),
]


def _tree(root: Path, files: dict) -> Path:
    pkg = root / "resdsl"
    for name, text in files.items():
        (pkg / name).parent.mkdir(parents=True, exist_ok=True)
        (pkg / name).write_text(text, encoding="utf-8")
    return pkg


def test_the_checker_passes_a_tree_that_keeps_the_rules(tmp_path):
    assert violations(_tree(tmp_path, CLEAN)) == []
    assert cycles(_tree(tmp_path, CLEAN)) == []


@pytest.mark.parametrize("path, text, expected", BROKEN, ids=[f"{b[0]}:{b[1].strip()}" for b in BROKEN])
def test_the_checker_reports_each_broken_rule(tmp_path, path, text, expected):
    found = violations(_tree(tmp_path, {**CLEAN, path: CLEAN[path] + text}))
    assert len(found) == 1 and expected in found[0], found
    assert found[0].startswith(f"resdsl/{path}:"), found  # located at the importing file and line


def test_the_checker_reports_a_cycle(tmp_path):
    pkg = _tree(tmp_path, {**CLEAN, "ir/a.py": "from . import b\n", "ir/b.py": "def f():\n    from .a import g\n"})
    assert cycles(pkg) == [["resdsl.ir.a", "resdsl.ir.b"]] or cycles(pkg) == [["resdsl.ir.b", "resdsl.ir.a"]]


def test_dependencies_point_one_way():
    assert violations(PKG) == []


def test_no_import_cycles():
    assert cycles(PKG) == []


def module_files():
    return [p for p in PKG.rglob("*.py") if p.name not in ("__init__.py", "__main__.py") or p.parent != PKG]


def layer_of(path: Path) -> str:
    return path.relative_to(PKG).parts[0].removesuffix(".py")


@pytest.mark.parametrize("path", [p for p in module_files() if layer_of(p) in ("errors", "spec", "ir", "analysis",
                                                                                "io", "cli", "render")],
                         ids=lambda p: str(p.relative_to(PKG)))
def test_core_modules_never_import_a_framework_at_top_level(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
            [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
        for name in names:
            assert name.split(".")[0] not in FRAMEWORKS, f"{path}: top-level import of {name}"


CHECK = ("import sys, runpy; sys.argv = ['resdsl'] + sys.argv[1:]\n"
         "from resdsl.cli import main\n"
         "rc = main(sys.argv[1:])\n"
         "bad = sorted(m for m in ('torch', 'tensorflow', 'keras') if m in sys.modules)\n"
         "print('LOADED', bad)\n")


@pytest.mark.parametrize("args", [["list"], ["validate", "resnet50"], ["summary", "resnet50", "--level", "block"],
                                  ["summary", "seresnet50", "--level", "stage", "--format", "json"], ["schema"]])
def test_commands_do_not_import_frameworks(args):
    proc = subprocess.run([sys.executable, "-c", CHECK, *args], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("LOADED []")


def test_import_resdsl_is_light():
    code = "import sys, resdsl; resdsl.resolve('resnet50'); print(sorted(m for m in ('torch', 'tensorflow', " \
           "'keras', 'graphviz') if m in sys.modules))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.stdout.strip() == "[]", proc.stderr
