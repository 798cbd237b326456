"""Python source of a PyTorch module for a resolved network; imports no torch.

Layout of an emitted module: a marker comment, a docstring (spec name,
description, counts), imports, RESDSL_SPEC / RESDSL_FINGERPRINT, the runtime
helpers it uses (copied from torch/runtime.py), one nn.Module class per block kind,
STAGES (runs of identical blocks as data, so the source does not grow with depth),
the network class and `build_model()`. `resdsl.build` executes this same text.
"""
from __future__ import annotations

import ast
import keyword
import re
import textwrap
from functools import lru_cache
from pathlib import Path

from ...errors import SpecError
from ...io import MARKER
from ...ir import Resolved
from ...version import __version__
from ..common import BlockKindInfo, _attrs, _camel, block_kinds, fingerprint, stage_runs, unsupported
from .ops import FRESH_OPS, INPLACE_ACTS, Attrs, Unsupported, constructor, literal_value, reserved_why
from .scope import Layer, NameClash, Scope

BACKEND = "torch"
RUNTIME = Path(__file__).with_name("runtime.py")
# Constructor parameters in this order first, as torchvision writes them.
ARG_ORDER = ("in_channels", "filters", "width", "out_channels", "stride", "groups")
SHORTCUT_TEXT = {"identity": "an identity shortcut", "none": "no shortcut (a plain block)",
                 "projection": "a projection shortcut", "zeropad": "a zero-padding shortcut (option A)",
                 "subsample": "a subsampling shortcut", "custom": "its own shortcut",
                 "avg_down": "an average-pool projection shortcut (ResNet-D)"}


@lru_cache(maxsize=1)
def _runtime() -> dict[str, tuple[str, set[str]]]:
    """name -> (source, names of other runtime definitions it uses)."""
    text = RUNTIME.read_text(encoding="utf-8")
    defs = {}
    for node in ast.parse(text).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            defs[node.name] = node
        elif isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            defs[node.targets[0].id] = node
    # Sliced by line (top-level nodes start in column 0; offsets count UTF-8 bytes):
    # ast.get_source_segment would split the whole file again for each definition.
    lines = text.encode("utf-8").splitlines(keepends=True)
    out = {}
    for name, node in defs.items():
        used = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} & set(defs)
        seg = lines[node.lineno - 1:node.end_lineno]
        seg[-1] = seg[-1][:node.end_col_offset]
        out[name] = (b"".join(seg).decode("utf-8"), used - {name})
    return out


def runtime_source(code: str) -> str:
    """The runtime definitions `code` calls, with what they need, in file order."""
    rt = _runtime()
    # Called (not after a dot: `self.avg_pool(...)` calls a layer named like a helper), or a base class.
    todo = [n for n in rt if re.search(rf"(?<![.\w]){n}\(|\({n}\):", code)]
    need: set[str] = set()
    while todo:
        n = todo.pop()
        if n not in need:
            need.add(n)
            todo.extend(rt[n][1])
    return "\n\n\n".join(rt[n][0] for n in rt if n in need)


def doc_text(s: str) -> str:
    """A spec string made safe inside a triple-quoted docstring, with its value
    kept: backslashes and quotes escaped, control and other invisible characters
    written as escapes (so nothing can end the string or hide in the file)."""
    out = []
    for ch in s:
        if ch in '\\"':
            out.append("\\" + ch)
        elif ch == "\n" or ch.isprintable():
            out.append(ch)
        else:
            out.append(repr(ch)[1:-1])
    return "".join(out)


def _py_name(name: str, taken: set[str]) -> str:
    """A Python identifier for `name` that shadows nothing the emitted code uses."""
    if not name.isidentifier():
        name = "arg_" + re.sub(r"\W", "_", name)
    while keyword.iskeyword(name) or name in taken:
        name += "_"
    return name


def _error(r: Resolved, node: str, code: str, msg: str, hint: str | None = None, span=None) -> SpecError:
    text = r.spec.source.text if r.spec is not None else None
    return SpecError.at(span or r.graph.nodes[node]["span"], code, msg, hint, text)


def _check_name(r: Resolved, node: str, path: str, span=None) -> None:
    """Each part of a layer's path becomes a Python attribute: refuse those that cannot."""
    for part in path.split("."):
        why = None if part.isdigit() else reserved_why(part)
        if why:
            raise _error(r, node, "reserved-name", f"the {BACKEND} backend cannot name a module '{part}' "
                                                   f"(layer '{node}'): {why}", "rename it with `name:`", span)


def _node_attrs(r: Resolved, node: str, scope_nodes: set[str], params: dict) -> Attrs:
    g, d = r.graph, r.graph.nodes[node]
    ins = [u for u, _, _ in sorted(g.in_edges(node, data="port"), key=lambda e: e[2])]
    src = g.nodes[ins[0]] if ins else None
    fresh = (src is not None and ins[0] in scope_nodes and src["op"] in FRESH_OPS and g.out_degree(ins[0]) == 1
             and src["attrs"].get("activation", "linear") == "linear")
    inplace = fresh and (d["op"] == "add" or (d["op"] == "act" and d["attrs"]["fn"] in INPLACE_ACTS))
    return Attrs(_attrs(d), params, inplace, len(d["in_shapes"][0]) if d["in_shapes"] else 3)


def _ctor(r: Resolved, node: str, attrs: Attrs) -> str:
    try:
        return constructor(r.graph.nodes[node]["op"], attrs)
    except Unsupported as exc:
        raise unsupported(BACKEND, r, node, str(exc)) from None


def _class(name: str, doc: str, sig: str, attrs: list[str], init: list[str], forward: list[str],
           base: str = "nn.Module") -> str:
    doc = textwrap.fill(doc, 112, subsequent_indent="    ", break_long_words=False, break_on_hyphens=False)
    head = f"    def __init__(self{sig}):"
    if len(head) > 120:
        head = textwrap.fill(head, 120, subsequent_indent=" " * 17, break_long_words=False)
    lines = [f"class {name}({base}):", f'    """{doc}"""', ""]
    lines += [f"    {a}" for a in attrs] + ([""] if attrs else [])
    lines += [head, "        super().__init__()"]
    lines += [f"        {x}" for x in init]
    lines += ["", "    def forward(self, x):"] + [f"        {x}" for x in forward]
    return "\n".join(lines)


def _backbone_attrs(r: Resolved, layers: list[Layer]) -> list[str]:
    """The class attributes `Backbone` reads: the head's top-level layers, each
    stage's output channels and reduction, the widths timm and torchvision ask for."""
    g = r.graph
    head = list(dict.fromkeys(la.path.split(".")[0] for la in layers
                              if la.path in g and g.nodes[la.path]["section"] == "head"))
    last = {}
    for n in r.order():
        if g.nodes[n]["section"] == "stage":
            last[g.nodes[n]["stage"]] = n
    info = [(stage, g.nodes[n]["shape"]) for stage, n in last.items()]
    names = ", ".join(literal_value(h) for h in head)
    lines = [f"HEAD = ({names}{',' if len(head) == 1 else ''})", "FEATURE_INFO = ("]
    lines += [f'    {{"module": {literal_value(st)}, "num_chs": {shape[0]}, '
              f'"reduction": {r.input_shape[1] // shape[1]}}},' for st, shape in info if len(shape) == 3]
    lines += [")"]
    feats = [g.nodes[n]["shape"] for n in r.order() if g.nodes[n]["section"] != "head"][-1]
    dense = [n for n in r.order() if g.nodes[n]["op"] == "dense"]
    lines += [f"inplanes = num_features = {feats[0]}"]
    if dense:
        lines += [f"num_classes = {g.nodes[dense[-1]]['shape'][0]}"]
    return lines


def _scope(r: Resolved, layers: list[Layer], owner_node: dict[str, str]) -> Scope:
    try:
        return Scope(layers)
    except NameClash as exc:
        node = owner_node[exc.path] if exc.path in owner_node else next(iter(owner_node.values()))
        raise _error(r, node, "name-clash", f"the {BACKEND} backend cannot build layer '{node}': {exc}",
                     "rename one of the layers with `name:`") from None


def _fuse_attr(scope: Scope, fuse_bn: bool) -> list[str]:
    """The (conv, norm) pairs `fold_batchnorm` folds, as a class attribute."""
    pairs = [f"({literal_value(c)}, {literal_value(n)})" for c, n in scope.fuse_pairs()] if fuse_bn else []
    if not pairs:
        return []
    one = f"FUSE = ({', '.join(pairs)}{',' if len(pairs) == 1 else ''})"
    if len(one) <= 112:
        return [one]
    lines = ["FUSE = ("]
    for (c, n), text in zip(scope.fuse_pairs(), pairs):
        if len(text) <= 110:
            lines.append(f"    {text},")
        else:
            lines += ["    (", f"        {literal_value(c)},", f"        {literal_value(n)},", "    ),"]
    return lines + [")"]


class _Emitter:
    def __init__(self, r: Resolved, fuse_bn: bool):
        self.r, self.fuse_bn = r, fuse_bn
        self.kinds, self.of_block = block_kinds(r)
        self.taken = set(_runtime()) | {"torch", "nn", "F", "self", "super", "x", "build_model", "STAGES",
                                        "RESDSL_SPEC", "RESDSL_FINGERPRINT"}
        self.class_of: dict[int, str] = {}
        for info in self.kinds:
            self.class_of[id(info)] = self._class_name(info.class_name, "Block")
        self.net_name = self._class_name(_camel(r.name), "Net")
        self.args: dict[int, dict[str, str]] = {id(info): self._args(info) for info in self.kinds}

    def _class_name(self, name: str, fallback: str) -> str:
        if not name or not name.isidentifier():
            name = fallback + re.sub(r"\W", "_", name)
        while name in self.taken or keyword.iskeyword(name):
            name += fallback
        self.taken.add(name)
        return name

    def _args(self, info: BlockKindInfo) -> dict[str, str]:
        """Constructor parameter -> its Python name, in signature order."""
        names = list(dict.fromkeys(info.params.values()))
        names.sort(key=lambda n: ARG_ORDER.index(n) if n in ARG_ORDER else len(ARG_ORDER))
        taken = set(self.taken)
        return {n: _py_name(n, taken) for n in names}

    def block_class(self, info: BlockKindInfo) -> str:
        r, first, py = self.r, info.instances[0], self.args[id(info)]
        nodes = {f"{first}.{local}" for local in info.locals}
        layers, owner = [], {}
        for local in info.locals:
            node = f"{first}.{local}"
            _check_name(r, node, local)
            params = {attr: py[p] for (loc, attr), p in info.params.items() if loc == local}
            ctor = _ctor(r, node, _node_attrs(r, node, nodes, params))
            layers.append(Layer(local, info.ops[local], ctor, info.inputs[local], r.graph.nodes[node]["role"]))
            owner[local] = node
        scope = _scope(r, layers, owner)
        n = len(info.instances)
        where = ", ".join(info.instances[:3]) + (f", ... ({n} blocks)" if n > 3 else "")
        doc = doc_text(f"A '{info.kind}' block with {SHORTCUT_TEXT.get(info.shortcut, 'a shortcut')}: {where}.")
        sig = "".join(f", {p}" for p in py.values())
        return _class(self.class_of[id(info)], doc, sig, _fuse_attr(scope, self.fuse_bn), scope.init_lines(),
                      scope.forward_lines({"main": "y", "shortcut": "s"}))

    def stages(self) -> str:
        runs = stage_runs(self.r, self.of_block)
        lines = ["# Each stage: its name and runs of identical blocks (block class, how many, constructor arguments).",
                 "STAGES = ["]
        for stage, stage_runs_ in runs.items():
            lines.append(f"    ({literal_value(stage)}, [")
            for run in stage_runs_:
                py = self.args[id(run.kind)]
                items = [f'"{py[k]}": {literal_value(run.values[k])}' for k in py]
                one = f"        ({self.class_of[id(run.kind)]}, {run.count}, {{{', '.join(items)}}}),"
                if len(one) <= 120:
                    lines.append(one)
                else:
                    lines += [f"        ({self.class_of[id(run.kind)]}, {run.count}, {{"]
                    lines += [f"            {item}," for item in items] + ["        }),"]
            lines.append("    ]),")
        return "\n".join(lines + ["]"])

    def network_class(self) -> str:
        r, g = self.r, self.r.graph
        layers: list[Layer] = []
        top: dict[str, str] = {}      # IR node -> path of the top-level layer producing it
        owner: dict[str, str] = {}
        outer = {n for n, d in g.nodes(data=True) if d["section"] in ("stem", "head")}
        stage_spans = {st.name: st.span for st in r.stages}
        for n, d in g.nodes(data=True):
            if d["section"] == "input":
                top[n] = "x"
                continue
            if d["section"] == "stage":
                stage = d["stage"]
                if not layers or layers[-1].path != stage:
                    _check_name(r, n, stage, stage_spans.get(stage))
                    if stage in owner:
                        raise _error(r, n, "name-clash", f"stage '{stage}' has the name of another layer",
                                     "rename the stage or the layer")
                    ins = [top[u] for u in g.predecessors(n) if u in top]
                    loop = [] if any(la.op == "stage" for la in layers) else self._stage_loop()
                    layers.append(Layer(stage, "stage", None, ins[:1], "main", False, init_code=loop))
                    owner[stage] = n
                top[n] = stage
                continue
            _check_name(r, n, n)
            if n in owner:
                raise _error(r, n, "name-clash", f"layer '{n}' has the name of a stage", "rename the layer")
            ins = [top[u] for u, _, _ in sorted(g.in_edges(n, data="port"), key=lambda e: e[2])]
            layers.append(Layer(n, d["op"], _ctor(r, n, _node_attrs(r, n, outer, {})), ins, "main"))
            top[n], owner[n] = n, n
        scope = _scope(r, layers, owner)
        attrs = ["resdsl_spec = RESDSL_SPEC", "resdsl_fingerprint = RESDSL_FINGERPRINT"]
        attrs += _backbone_attrs(r, layers)
        attrs += _fuse_attr(scope, self.fuse_bn)
        doc = f"The '{doc_text(r.name)}' network (see the module docstring)."
        return _class(self.net_name, doc, "", attrs, scope.init_lines(), scope.forward_lines({"main": "x"}),
                      base="Backbone")

    @staticmethod
    def _stage_loop() -> list[str]:
        return ["for name, runs in STAGES:",
                "    blocks = [block(**args) for block, repeat, args in runs for _ in range(repeat)]",
                "    self.add_module(name, nn.Sequential(*blocks))"]

    def build_model(self) -> str:
        if self.fuse_bn:
            return "\n".join([
                "def build_model(fused=True):",
                f'    """A new {self.net_name}, initialised as the spec says. With `fused` (the default), each',
                "    BatchNorm that follows a conv is folded into it and the model is in eval mode: for",
                "    inference. To fold trained weights, build with fused=False, load them, then call",
                '    fold_batchnorm(model)."""',
                f"    model = {self.net_name}()",
                "    return fold_batchnorm(model) if fused else model"])
        return "\n".join(["def build_model():",
                          f'    """A new {self.net_name}, initialised as the spec says."""',
                          f"    return {self.net_name}()"])

    def header(self) -> str:
        r = self.r
        desc = "\n".join(textwrap.fill(doc_text(p), 100, break_long_words=False, break_on_hyphens=False)
                         for p in r.description.split("\n"))
        c, h, w = r.input_shape
        out = "x".join(str(s) for s in r.output_shape)
        lines = [f"# {MARKER} {__version__} from the spec {r.name!r}. Change the spec and compile it again",
                 "# (`resdsl compile SPEC --backend torch`) rather than editing this file.",
                 f'"""The \'{doc_text(r.name)}\' network for PyTorch.', ""]
        lines += ([desc, ""] if desc.strip() else [])
        lines += [f"Input {c}x{h}x{w} (channels, height, width), output {out}.",
                  f"{r.params:,} parameters and {r.buffers:,} buffers (BatchNorm running statistics);",
                  f"{r.macs:,} multiply-accumulates per image."]
        if self.fuse_bn:
            lines += ["Compiled with --fuse-bn: build_model() folds each BatchNorm that follows a conv into that",
                      "conv, for inference."]
        lines += ["", "Use: `model = build_model()`.", '"""']
        return "\n".join(lines)

    def source(self) -> str:
        body = [self.block_class(info) for info in self.kinds]
        if self.r.stages:
            body.append(self.stages())
        body += [self.network_class(), self.build_model()]
        code = "\n\n\n".join(body)
        helpers = runtime_source(code)
        everything = helpers + code
        imports = ["import torch"] if re.search(r"\btorch\.", everything) else []
        imports += ["import torch.nn.functional as F"] if re.search(r"\bF\.", everything) else []
        imports += ["from torch import nn"]
        consts = [f"RESDSL_SPEC = {self.r.name!r}", f"RESDSL_FINGERPRINT = {fingerprint(self.r)!r}"]
        parts = [self.header(), "\n".join(imports), "\n".join(consts)] + ([helpers] if helpers else []) + [code]
        return "\n\n".join(parts[:3]) + "\n\n\n" + "\n\n\n".join(parts[3:]) + "\n"


def emit_source(r: Resolved, fuse_bn: bool = False) -> str:
    return _Emitter(r, fuse_bn).source()
