"""The one-way dependency rule of the design notes, stated here as ALLOWED:
each layer imports only the layers below it; no module imports the package
root (which imports most of resdsl: `__version__` lives in resdsl/version.py);
no two modules import each other, directly or round a longer circle, even
inside functions; and no framework import where none is needed."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).parents[2] / "resdsl"

# layer -> layers it may import
# (errors <- spec <- ir <- {backends, render, analysis} <- {training, datasets} <- cli);
# every layer may read the shared names in vocab and the fast-path switch, which import nothing.
ALLOWED = {
    "vocab": set(),
    "fastpath": set(),
    "errors": set(),
    "io": {"errors"},
    "spec": {"errors"},
    "ir": {"errors", "spec"},
    "analysis": {"errors", "spec", "ir"},
    "reports": {"errors", "spec", "ir", "analysis"},  # --format json of validate/summary
    "render": {"errors", "spec", "ir", "io", "analysis"},
    "backends": {"errors", "spec", "ir", "io", "analysis"},
    "datasets": {"errors"},
    "training": {"errors", "spec", "ir", "io", "analysis", "backends", "datasets"},
    "export": {"errors", "spec", "ir", "io", "analysis", "backends"},  # above the backends
    "cli": {"errors", "spec", "ir", "io", "analysis", "render", "backends", "reports", "export", "datasets",
            "training"},
}
for _layer, _deps in ALLOWED.items():
    if _layer not in ("vocab", "fastpath"):
        _deps |= {"vocab", "fastpath"}
FRAMEWORKS = {"torch", "tensorflow", "keras", "torchvision"}


def layer_of(path: Path) -> str:
    rel = path.relative_to(PKG).parts
    return rel[0].removesuffix(".py")


def imports(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the package
                base = path.relative_to(PKG).parts[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(("resdsl", *base, *(node.module.split(".") if node.module else ())))
            else:
                target = node.module or ""
            yield node, target
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield node, alias.name


def module_files():
    return [p for p in PKG.rglob("*.py") if p.name not in ("__init__.py", "__main__.py") or p.parent != PKG]


@pytest.mark.parametrize("path", module_files(), ids=lambda p: str(p.relative_to(PKG)))
def test_dependencies_point_one_way(path):
    layer = layer_of(path)
    for _, target in imports(path):
        parts = target.split(".")
        if parts[0] != "resdsl":
            continue
        assert len(parts) > 1, f"{path.relative_to(PKG)} imports the package root ({target})"
        dep = parts[1]
        if dep == "version":  # below every layer
            continue
        if dep == layer:
            if layer == "backends" and len(parts) > 2:
                me = path.stem.split("_")[0]
                other = parts[2].split("_")[0]
                # backends never import each other (shared code lives in common/port helpers)
                assert not ({me, other} == {"torch", "keras"}), f"{path}: imports {target}"
            continue
        assert dep in ALLOWED.get(layer, set()), f"{path.relative_to(PKG)} (layer {layer}) imports {target}"


def _module_of(path: Path) -> str:
    parts = path.relative_to(PKG.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_no_import_cycles():
    import networkx as nx
    files = list(PKG.rglob("*.py"))
    known = {_module_of(p) for p in files}
    graph = nx.DiGraph()
    for path in files:
        me = _module_of(path)
        for node, target in imports(path):
            names = [a.name for a in node.names] if isinstance(node, ast.ImportFrom) else []
            targets = [f"{target}.{n}" for n in names if f"{target}.{n}" in known] or [target]
            for t in targets:
                while t not in known and "." in t:  # `from .x import name`: the module x
                    t = t.rsplit(".", 1)[0]
                package_init = me.startswith(t + ".") or t == "resdsl"  # a package's __init__ runs first anyway
                if t in known and t != me and not package_init:
                    graph.add_edge(me, t)
    cycles = list(nx.simple_cycles(graph))
    assert not cycles, f"import cycles: {cycles[:5]}"


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
                                  ["schema"]])
def test_commands_do_not_import_frameworks(args):
    proc = subprocess.run([sys.executable, "-c", CHECK, *args], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("LOADED []")


def test_import_resdsl_is_light():
    code = "import sys, resdsl; resdsl.resolve('resnet50'); print(sorted(m for m in ('torch', 'tensorflow', " \
           "'keras', 'graphviz') if m in sys.modules))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.stdout.strip() == "[]", proc.stderr
