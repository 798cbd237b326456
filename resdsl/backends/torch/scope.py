"""The body of one emitted nn.Module class (a block kind, or the network): its
`__init__` lines and its straight-line `forward`.

Every IR node is a submodule at its IR name relative to the class (`conv1`,
`downsample.0`), so `model.get_submodule(node)` works for every node and
torchvision's state_dict keys line up. A dotted name makes a container: digits
(`downsample.0`, `downsample.1`) an nn.Sequential, called as one module, when its
members form a chain (as torchvision's downsample), else an nn.ModuleList (timm's
`convs`, `paths`) whose members are called one by one; other names a plain
nn.Module holding attributes. Containers nest either way (`pool.1.a`: a Holder
inside a ModuleList). `forward` is plain Python calls with no loops over
the graph, so it costs what hand-written code costs and torch.compile sees no
graph breaks.
"""
from __future__ import annotations

import keyword
from dataclasses import dataclass, field, replace
from itertools import pairwise

from ...errors import HintedError
from ...ir import INPUT
from ..codegen import fit_call as fit

INLINE_DEPTH = 3  # conv -> norm -> act reads well on one line; deeper nesting does not
INLINE_CHARS = 50  # nor do long nested calls, counting each layer as PATH_CHARS (so names do not change statements)
PATH_CHARS = 10


class NameClash(HintedError):
    """Two layers map to the same module attribute; carries the offending path."""

    def __init__(self, path: str, why: str):
        super().__init__(why)
        self.path = path


@dataclass
class Layer:
    path: str                  # attribute path inside the class: "conv1", "downsample.0"
    op: str
    ctor: str | None           # constructor expression (None: built elsewhere, e.g. a stage)
    inputs: list[str]          # paths of the layers it reads; INPUT is the class input
    role: str = "main"
    inline: bool = True        # may be written inside its consumer's call
    members: list[Layer] = field(default_factory=list)  # a chain called as one Sequential
    init_code: list[str] = field(default_factory=list)     # __init__ lines when ctor is None
    code: str | None = None    # forward expression with {0}, {1}... for the inputs, instead of a call
    fuse: list = field(default_factory=list)               # (conv, norm) pairs inside it
    foldable: bool = False     # a 2-D batch norm, which fold_batchnorm may fold into a conv before it


def access(path: str) -> str:
    """The expression for the submodule at `path`: `self.layer1[0].conv1`; a part
    that is a keyword or starts with `__` (which Python would mangle) through
    the module's dict, `self._modules["if"]`."""
    def part(p: str) -> str:
        if p.isdigit():
            return f"[{p}]"
        return f'._modules["{p}"]' if keyword.iskeyword(p) or p.startswith("__") else f".{p}"
    return "self" + "".join(part(p) for p in path.split("."))


OUT = "<out>"  # the consumer a kept value (an output of the network) has beyond its layers


class Scope:
    """`keep`: paths whose values leave the class (the network's outputs): they are
    never inlined, folded away, merged into a Sequential call or overwritten."""

    def __init__(self, layers: list[Layer], keep: tuple[str, ...] = ()):
        self.layers = layers
        self.keep = tuple(keep)
        self.by_path = {la.path: la for la in layers}
        self.containers = self._containers()
        self._chain_set: set[str] | None = None  # see _chains

    def _containers(self) -> dict[str, str]:
        """prefix -> 'seq' (digit children) | 'module'; refuses paths that clash.
        Also sets `children`: prefix -> the paths directly under it (a Sequential's in
        index order), layers and containers alike (`pool.0`, and `pool.1` holding
        `pool.1.a`)."""
        children: dict[str, list[str]] = {}
        for la in self.layers:
            parts = la.path.split(".")
            for i in range(1, len(parts)):
                children.setdefault(".".join(parts[:i]), []).append(parts[i])
        kinds = {}
        self.children = {}
        for prefix, kids in children.items():
            if prefix in self.by_path:
                raise NameClash(prefix, f"'{prefix}' is both a layer and a group of layers")
            kids = list(dict.fromkeys(kids))
            digits = [k for k in kids if k.isdigit()]
            if digits and (len(digits) != len(kids) or sorted(map(int, digits)) != list(range(len(digits)))):
                raise NameClash(prefix, f"the layers under '{prefix}' mix indices and names")
            kinds[prefix] = "seq" if digits else "module"
            self.children[prefix] = [f"{prefix}.{k}" for k in (sorted(kids, key=int) if digits else kids)]
        return kinds

    def consumers(self, layers: list[Layer]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {la.path: [] for la in layers}
        out[INPUT] = []
        for la in layers:
            for u in la.inputs:
                out.setdefault(u, []).append(la.path)
        for p in self.keep:
            out.setdefault(p, []).append(OUT)
        return out

    def fuse_pairs(self) -> list[tuple[str, str]]:
        """(conv, norm) pairs where the norm reads the conv's output and nothing else does."""
        users = self.consumers(self.layers)
        pairs = []
        for la in self.layers:
            if la.foldable and len(la.inputs) == 1:
                src = self.by_path.get(la.inputs[0])
                if src is not None and src.op == "conv" and users[src.path] == [la.path]:
                    pairs.append((src.path, la.path))
        return pairs

    # -- __init__ -------------------------------------------------------------
    def init_lines(self, indent: int = 8) -> list[str]:
        lines: list[str] = []
        made: set[str] = set()  # containers and layers already written, some inside a Sequential's call
        for la in self.layers:
            if la.ctor is None:
                lines += la.init_code
                continue
            if la.path in made:
                continue
            parts = la.path.split(".")
            for i in range(1, len(parts)):
                prefix = ".".join(parts[:i])
                if prefix not in made:
                    lines += fit(f"{access(prefix)} = ", self._container(prefix, made), indent)
            if la.path not in made:
                lines += fit(f"{access(la.path)} = ", la.ctor, indent)
        return lines

    def _container(self, prefix: str, made: set[str]) -> str:
        """The constructor of a container, adding to `made` what it builds. An indexed
        one is built whole, with its members (a member that is a container itself
        nested in the call, a named one's layers added later by attribute): an
        nn.Sequential where forward calls it as one chain, else an nn.ModuleList
        (timm's), whose members forward calls one by one, each with its own inputs."""
        made.add(prefix)
        if self.containers[prefix] == "module":
            return "Holder()"
        members = []
        for path in self.children[prefix]:
            if path in self.by_path:
                made.add(path)
                members.append(self.by_path[path].ctor)
            else:
                members.append(self._container(path, made))
        if prefix in self._chains():
            return f"nn.Sequential({', '.join(members)})"
        return f"nn.ModuleList([{', '.join(members)}])"

    # -- forward --------------------------------------------------------------
    def _chains(self) -> set[str]:
        """The indexed containers whose members are layers that form one chain (each
        reads the one before it, and only it does): forward calls them as one
        Sequential. One with a container in it (`stages.0.blocks`, `pool.1.a`) is
        called member by member."""
        if self._chain_set is None:
            users, self._chain_set = self.consumers(self.layers), set()
            for prefix, kind in self.containers.items():
                if kind != "seq" or any(p not in self.by_path for p in self.children[prefix]):
                    continue
                members = [self.by_path[p] for p in self.children[prefix]]
                chain = len(members[0].inputs) == 1 and members[0].inputs[0] not in {m.path for m in members}
                for prev, cur in pairwise(members):
                    chain = chain and cur.inputs == [prev.path] and users[prev.path] == [cur.path]
                if chain:
                    self._chain_set.add(prefix)
        return self._chain_set

    def collapsed(self) -> list[Layer]:
        """The layer list with each chain-shaped Sequential replaced by one call
        (`self.renamed`: a chain's last member -> the Sequential's path)."""
        layers = list(self.layers)
        self.renamed: dict[str, str] = {}
        for prefix in self.containers:
            if prefix not in self._chains():
                continue
            members = [self.by_path[p] for p in self.children[prefix]]
            last, paths = members[-1], {m.path for m in members}
            # By path: an earlier collapse may have renamed the first member's input.
            first = next(la for la in layers if la.path == members[0].path)
            pos = next(i for i, la in enumerate(layers) if la.path == last.path)
            layers[pos] = Layer(prefix, "sequential", None, first.inputs, last.role, True, members)
            layers = [la for la in layers if la.path not in paths]
            rename = {last.path: prefix}
            self.renamed[last.path] = prefix
            layers = [replace(la, inputs=[rename.get(u, u) for u in la.inputs]) for la in layers]
        return layers

    @staticmethod
    def _chars(expr: str, layers: list[Layer]) -> int:
        """The length of `expr` with every layer's access written PATH_CHARS long."""
        for la in layers:
            expr = expr.replace(access(la.path), "s" * PATH_CHARS)
        return len(expr)

    def forward_lines(self, base_names: dict[str, str], outputs: list[str] | None = None,
                      early: str | None = None) -> list[str]:
        """Straight-line forward. `base_names` maps a role to its variable's name
        ('main' -> 'y'); a name still holding a live value gets a number. It returns
        the last layer's value, or with `outputs` the list of those paths' values.
        `early` (a condition) returns the last layer's first input instead when it
        holds: `forward_head(x, pre_logits)` stops before the classifier."""
        layers = self.collapsed()
        users = self.consumers(layers)
        pos = {la.path: i for i, la in enumerate(layers)}
        pos[OUT] = len(layers)
        last_use = {p: max((pos[c] for c in cs), default=-1) for p, cs in users.items()}
        holder: dict[str, str] = {"x": INPUT}       # variable -> path of the value it holds
        var_of: dict[str, str] = {INPUT: "x"}
        pending: dict[str, tuple[str, int]] = {}    # path -> (inline expression, depth)
        lines = []
        for i, la in enumerate(layers):
            args, depth = [], 0
            for u in la.inputs:
                if u in pending:
                    expr, d = pending.pop(u)
                    args.append(expr)
                    depth = max(depth, d)
                else:
                    args.append(var_of[u])
            expr = la.code.format(*args) if la.code is not None else f"{access(la.path)}({', '.join(args)})"
            if i == len(layers) - 1 and outputs is None:
                if early is not None:
                    lines += [f"if {early}:", f"    return {args[0] if args else 'x'}"]
                lines += fit("return ", expr)
                break
            nxt = layers[i + 1] if i + 1 < len(layers) else la
            last_but_one = early is not None and i == len(layers) - 2
            if (la.inline and nxt.inline and users[la.path] == [nxt.path] and len(nxt.inputs) == 1
                    and depth + 1 < INLINE_DEPTH and self._chars(expr, layers) <= INLINE_CHARS and not last_but_one):
                pending[la.path] = (expr, depth + 1)
                continue
            base = base_names.get(la.role, "y")
            name, n = base, 0
            while name in holder and last_use[holder[name]] > i:
                n += 1
                name = f"{base}{n}"
            holder[name], var_of[la.path] = la.path, name
            lines += fit(f"{name} = ", expr)
        if outputs is not None:
            lines += fit("return ", f"[{', '.join(var_of[self.renamed.get(p, p)] for p in outputs)}]")
        elif not layers:
            lines = ["return x"]
        return lines
