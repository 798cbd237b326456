"""The checker behind tests/core/test_layering.py: every import of every module of
a package tree, read with ast (inside functions too) and resolved to the module it
loads, held against the one-way rule of the design notes. It takes any tree, so
the tests can prove it fails on a synthetic package that breaks each rule."""
from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

# layer -> layers it may import
# (errors <- spec <- ir <- {backends, render, analysis} <- {training, export} <- cli);
# every layer may read vocab (shared names), version and fastpath (the switch), which import nothing.
ALLOWED = {
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
BELOW_ALL = {"vocab", "version", "fastpath"}
# Packages under backends/ that sit above the backend packages and may import them all:
# port/ copies weights between a torch and a Keras model.
BRIDGES = {"port"}


@dataclass(frozen=True)
class Import:
    module: str   # the importing module, dotted
    target: str   # the module it loads, dotted
    line: int


class Tree:
    """The modules of one package (root: the folder holding its __init__.py)."""

    def __init__(self, root: Path):
        self.root, self.name = root, root.name
        self.files = {self.module_of(p): p for p in sorted(root.rglob("*.py"))}

    def module_of(self, path: Path) -> str:
        parts = (self.name, *path.relative_to(self.root).with_suffix("").parts)
        return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)

    def is_package(self, module: str) -> bool:
        return module in self.files and self.files[module].name == "__init__.py"

    def imports(self, module: str):
        path = self.files[module]
        package = module if self.is_package(module) else module.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield Import(module, alias.name, node.lineno)
            elif isinstance(node, ast.ImportFrom):
                if node.level:  # relative: against the importing module's package
                    base = package.split(".")
                    base = base[: len(base) - (node.level - 1)]
                    target = ".".join(base + (node.module.split(".") if node.module else []))
                else:
                    target = node.module or ""
                # `from pkg import sub` loads pkg.sub where that is a module of the tree.
                subs = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in self.files]
                for t in subs or [target]:
                    yield Import(module, t, node.lineno)

    def all_imports(self):
        for module in self.files:
            yield from self.imports(module)

    def backend_package(self, module: str) -> str | None:
        """'torch' for pkg.backends.torch and the modules under it, None elsewhere."""
        parts = module.split(".")
        if len(parts) > 2 and parts[1] == "backends" and self.is_package(".".join(parts[:3])):
            return parts[2]
        return None


def violations(root: Path) -> list[str]:
    """Every import in the tree at `root` that breaks a rule, as 'file:line: what'."""
    tree, out = Tree(root), []
    for imp in tree.all_imports():
        parts, me = imp.target.split("."), imp.module.split(".")
        if parts[0] != tree.name or len(me) == 1 or me[1:] == ["__main__"]:
            continue  # another library; or the package root and `python -m`, above everything
        where = f"{tree.files[imp.module].relative_to(root.parent)}:{imp.line}"
        if len(parts) == 1:
            out.append(f"{where}: imports the package root ({imp.target}), which imports most of {tree.name}")
            continue
        layer, dep = me[1], parts[1]
        if dep in BELOW_ALL:
            continue
        if dep != layer and dep not in ALLOWED.get(layer, set()):
            out.append(f"{where}: layer {layer} imports {imp.target} (layer {dep}), which is not below it")
        mine, theirs = tree.backend_package(imp.module), tree.backend_package(imp.target)
        if dep == layer == "backends" and theirs not in (None, mine) and mine not in BRIDGES:
            who = f"backend {mine}" if mine else f"the shared module {imp.module}"
            out.append(f"{where}: {who} imports {imp.target} (backend package {theirs}); backends never import "
                       "each other (shared code lives in backends/common.py and the like)")
    return out


def cycles(root: Path) -> list[list[str]]:
    """Modules that import each other, directly or round a longer circle. An import
    of a package a module sits in is no edge: the package's __init__ runs first anyway."""
    import networkx as nx
    tree, graph = Tree(root), nx.DiGraph()
    for imp in tree.all_imports():
        t = imp.target
        while t not in tree.files and "." in t:  # `from .x import name`: the module x
            t = t.rsplit(".", 1)[0]
        if t in tree.files and t != imp.module and not imp.module.startswith(t + "."):
            graph.add_edge(imp.module, t)
    return list(nx.simple_cycles(graph))
