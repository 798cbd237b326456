"""Keras source: a module that imports only keras, written as the articles
write Keras ResNets — one function per block kind (their `identity_block` /
`convolutional_block`), stages as a loop over data, `build_model()`.

Pure text generation from the IR: no framework is imported here. Which layers
a node becomes is decided by keras.rules, as in `build`, and the module carries
the text of the rules, layers and helpers it uses (copied from rules.py,
extra.py and helpers.py), so the emitted model computes what the built one
does, layer names included (tests/backends/test_keras_emit.py checks outputs).
"""
from __future__ import annotations

import ast
import io
import json
import keyword
import re
import textwrap
import tokenize
from functools import lru_cache
from pathlib import Path

from ...ir import OPS, SHORTCUT, BlockDef, Resolved, TemplateNode, rounding
from ...ir.expr import is_symbolic, plain
from ...version import __version__
from ..common import check_block_names, fingerprint, unsupported
from . import rules
from .plan import BACKEND, fused_norms, output_names, plan

# Where the emitted module's helpers come from: their text is copied, so the
# module decides and builds as `build` does (rules.py: the decisions; extra.py:
# layers Keras lacks; helpers.py: the layers of a conv or max-pool, and the
# functions an emitted module calls).
SOURCES = tuple(Path(__file__).with_name(f) for f in ("rules.py", "extra.py", "helpers.py")) + (
    Path(rounding.__file__),)  # the rounding that expressions call (`make_divisible`), as lowering does
# The names an emitted module imports.
IMPORTED = {"keras", "layers", "ops", "random", "np"}
# Ops whose layer takes its inputs as a list.
MERGES = {op for op, d in OPS.items() if d.merge}


@lru_cache(maxsize=1)
def _definitions() -> dict[str, tuple[str, frozenset]]:
    """Top-level definitions of SOURCES: name -> (text, with the comment lines
    just above it, and the names it uses), in file order."""
    out = {}
    for path in SOURCES:
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        for node in ast.parse(text).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                name = node.name
            elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                name = node.targets[0].id
            else:
                continue
            start = node.lineno - 1
            while start and lines[start - 1].startswith("#"):
                start -= 1
            out[name] = ("\n".join(lines[start:node.end_lineno]), _names(node))
    return out


def _names(tree) -> frozenset:
    return frozenset(n.id for n in ast.walk(tree) if isinstance(n, ast.Name))


def _needed(code: str) -> list[str]:
    """The definitions `code` uses, and those they use, in file order."""
    defs = _definitions()
    todo, seen = set(_names(ast.parse(code)) & defs.keys()), set()
    while todo:
        name = todo.pop()
        seen.add(name)
        todo |= (defs[name][1] & defs.keys()) - seen
    return [n for n in defs if n in seen]


def _fit(line: str, width: int = 120) -> str:
    """A long line of emitted code broken inside its brackets, after a comma where
    one fits (else after an opening bracket)."""
    if len(line) <= width:
        return line
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(line + "\n").readline))
    except (tokenize.TokenError, SyntaxError):  # not a line of code on its own
        return line
    depth, cuts = 0, []  # (column after the cut, 1 after a comma, 0 after an opening bracket)
    for t in tokens:
        if t.type == tokenize.OP and t.string in "([{":
            depth += 1
            cuts.append((t.end[1], 0))
        elif t.type == tokenize.OP and t.string in ")]}":
            depth -= 1
        elif t.type == tokenize.OP and t.string == "," and depth:
            cuts.append((t.end[1], 1))
    # A def's parameters continue eight columns in, apart from its body.
    indent = " " * (len(line) - len(line.lstrip()) + (8 if line.lstrip().startswith("def ") else 4))
    out, start = [], 0

    def piece(end):  # the text of a line from `start` to `end`
        return (indent + line[start:end].strip()) if start else line[:end].rstrip()
    while len(piece(len(line))) > width:
        ahead = [(c, kind) for c, kind in cuts if c > start]
        if not ahead:
            break
        fits = [(kind, c) for c, kind in ahead if len(piece(c)) <= width]
        cut = max(fits)[1] if fits else ahead[0][0]
        out.append(piece(cut))
        start = cut
    return "\n".join([*out, piece(len(line))])


def _safe_text(s: str) -> str:
    """Spec text for a docstring: no control characters, backslashes or closing quotes."""
    s = "".join(ch if ch.isprintable() else " " for ch in str(s))
    return s.replace("\\", "/").replace('"""', "'''")


def _var(local: str, taken: set[str]) -> str:
    v = re.sub(r"\W", "_", local)
    # A layer named `class` or `conv` must not become `class = ...` or shadow a helper.
    if not v.isidentifier() or keyword.iskeyword(v) or v in taken or v in IMPORTED or v in _definitions() \
            or v[0].isdigit():
        v = f"t_{v}"
    return v


def _layer(op: str, a, x: str, name: str) -> str:
    """One IR node as Keras code, deciding with keras.rules as make_layers does;
    `a(key)` gives an attribute as an expression."""
    if op == "conv":
        kw = _keywords(a, use_bias=("bias", False), groups=("groups", 1), init=("init", "glorot_uniform"))
        return f"conv({', '.join([x, a('filters'), *_sizes(a), name, *kw])})"
    if op == "maxpool":
        plain = f"max_pool({', '.join([x, *_sizes(a), name])})"
        if not a.is_param("ceil_mode") and not a.raw("ceil_mode", False):
            return plain
        ceil = f"MaxPool2DCeil({', '.join([*_pairs(a), f'name={name}'])})({x})"
        return f"{ceil} if {a('ceil_mode')} else {plain}" if a.is_param("ceil_mode") else ceil
    if op == "dense":
        kw = _keywords(a, activation=("activation", "linear"), use_bias=("bias", True), init=("init", "glorot_uniform"))
        return f"dense({', '.join([x, a('units'), name, *kw])})"
    if op == "norm" and a.raw("type") == "groupnorm":  # never a parameter: templates.STRUCTURAL
        kw = _keywords(a, gamma_initializer=("gamma_init", "ones"))
        parts = [a("groups"), f"epsilon={a('eps')}", *kw, f"name={name}"]
        return f"layers.GroupNormalization({', '.join(parts)})({x})"
    if op == "norm":
        m = a("momentum")
        momentum = f"keras_momentum({m})" if a.is_param("momentum") else repr(rules.keras_momentum(a.raw("momentum")))
        kw = _keywords(a, gamma_initializer=("gamma_init", "ones"))
        parts = [f"epsilon={a('eps')}", f"momentum={momentum}", *kw, f"name={name}"]
        return f"layers.BatchNormalization({', '.join(parts)})({x})"
    if op == "zeropad":
        p = a("padding")
        pad = f"pad_pairs({p})" if a.is_param("padding") else repr(rules.pad_pairs(a.raw("padding")))
        return f"layers.ZeroPadding2D({pad}, name={name})({x})"
    if op == "avgpool" and _padded_pool(a):
        op = "avgpool_padded"
    cls, args, kwargs = rules.LAYERS[op]
    call = [a(k) if isinstance(k, str) else repr(k) for k in args] + _keywords(a, **kwargs) + [f"name={name}"]
    module = "" if cls in _definitions() else "layers."
    return f"{module}{cls}({', '.join(call)})({f'[{x}]' if op in MERGES else x})"


def _pairs(a) -> list[str]:
    """Kernel and stride as (height, width), padding as four sides: what the layers of extra.py take."""
    return [f"pair({a(k)})" if a.is_param(k) else repr(rules.pair(a.raw(k))) for k in ("kernel", "stride")] + \
        [f"sides({a('padding')})" if a.is_param("padding") else repr(rules.sides(a.raw("padding")))]


def _sizes(a) -> list[str]:
    return [a.short("kernel"), a.short("stride"), a.short("padding")]


def _keywords(a, **spec) -> list[str]:
    """`keyword=value` for each keyword -> (attribute,) or (attribute, default),
    leaving out a constant that equals its default."""
    return [f"{kw}={a(attr[0])}" for kw, attr in spec.items()
            if len(attr) == 1 or a.is_param(attr[0]) or a.raw(attr[0], attr[1]) != attr[1]]


def _padded_pool(a) -> bool:
    """Whether an avgpool needs AvgPool2DPad (padding or ceil_mode, or either set per block)."""
    return a.is_param("padding") or a.is_param("ceil_mode") or \
        rules.avg_pool_padded(a.raw("padding"), a.raw("ceil_mode", False))


class _Attrs:
    """Attribute expressions: a parameter's name, or the constant's repr."""

    def __init__(self, attrs: dict, params: dict | None = None, fused: bool = False):
        self.attrs, self.params, self.fused = attrs, params or {}, fused
        self.shorts: dict[str, str] = {}  # parameter sizes written as one int

    def is_param(self, key) -> bool:
        return key in self.params

    def raw(self, key, default=None):
        """A constant attribute (True for the bias of a conv that a norm folds into)."""
        if key == "bias" and self.fused:
            return True
        v = self.attrs.get(key, default)
        return tuple(v) if isinstance(v, list) else v

    def __call__(self, key) -> str:
        return self.params[key] if key in self.params else repr(self.raw(key))

    def short(self, key) -> str:
        """A size as one int where every side is the same: `3` for (3, 3)."""
        v = self.raw(key)
        if key in self.shorts:
            return self.shorts[key]
        if key in self.params or not isinstance(v, tuple) or len(set(v)) != 1:
            return self(key)
        return repr(v[0])


def _py_names(d: BlockDef, taken: set[str]) -> dict[str, str]:
    """The definition's parameters and derived values as Python names that shadow
    nothing the emitted module uses."""
    out = {}
    for n in d.params + [k for k, _ in d.lets]:
        v = n if n.isidentifier() and not n.startswith("__") else "arg_" + re.sub(r"\W", "_", n)
        while keyword.iskeyword(v) or v in taken or v in IMPORTED or v in _definitions():
            v += "_"
        taken.add(v)
        out[n] = v
    return out


def _rename(text: str, names: dict[str, str]) -> str:
    """An expression with the definition's parameters under their Python names."""
    return re.sub(r"[A-Za-z_][A-Za-z0-9_]*", lambda m: names.get(m.group(0), m.group(0)), text)


def _code(v, names: dict[str, str]) -> str | None:
    """Code for an attribute that is an expression of the definition's parameters."""
    if is_symbolic(v):
        return _rename(v.text, names)
    if isinstance(v, tuple) and any(is_symbolic(x) for x in v):
        return f"({', '.join(_rename(x.text, names) if is_symbolic(x) else repr(x) for x in v)})"
    return None


def _node_attrs(n: TemplateNode, names: dict[str, str], fused: bool) -> _Attrs:
    params = {k: c for k, c in ((k, _code(v, names)) for k, v in n.attrs.items()) if c is not None}
    a = _Attrs(plain(dict(n.attrs.items())), params, fused=fused)
    for k, v in n.attrs.items():  # (stride, stride) reads `stride` where a size may be one int
        if isinstance(v, tuple) and k in params and len({_code(x, names) or repr(x) for x in v}) == 1:
            a.shorts[k] = _code(v[0], names)
    return a


def _block_function(resolved: Resolved, d: BlockDef, fname: str, folds: dict[str, str]) -> tuple[str, list[str]]:
    """One function per block definition, as keras.applications writes `block1(x, filters, ...,
    conv_shortcut=True, name=None)`: the shortcut path, where instances differ in it, is chosen
    by `downsample`."""
    first_of = {}  # (variant or "", local) -> a graph node of it, to find folded norms
    for b in resolved.blocks:
        if b.block_def == d.name:
            for n in d.nodes:
                first_of.setdefault(("", n.local), f"{b.name}.{n.local}")
            for n in d.variants.get(b.variant, []):
                first_of.setdefault((b.variant, n.local), f"{b.name}.{n.local}")

    def folded(variant: str, local: str) -> str | None:
        """The local of the conv a norm folds into (fuse_bn), or None."""
        node = first_of.get((variant, local))
        conv = folds.get(node) if node else None
        if conv is None:
            return None
        block = node[:len(node) - len(local) - 1]
        return conv[len(block) + 1:]

    taken = {"x", "name", "s"}
    names = _py_names(d, taken)
    var = {"x": "x"}

    def lines_for(nodes: list[TemplateNode], variant: str, indent: str) -> list[str]:
        out = []
        for n in nodes:
            conv = folded(variant, n.local)
            if conv is not None:  # a norm folded into its conv
                var[n.local] = var[conv]
                continue
            fused = any(folded(variant, m.local) == n.local for m in nodes)
            ins = ", ".join(var[i] if i != SHORTCUT else "s" for i in n.inputs)
            var[n.local] = _var(n.local, taken)
            taken.add(var[n.local])
            layer = _layer(n.op, _node_attrs(n, names, fused), ins, "named(name + " + json.dumps("." + n.local) + ")")
            out.append(f"{indent}{var[n.local]} = {layer}")
        return out

    body = [f"    {names[k]} = {_rename(t, names)}" for k, t in d.lets]
    adds = [i for i, n in enumerate(d.nodes) if SHORTCUT in n.inputs]
    cut = adds[0] if adds else len(d.nodes)
    body += lines_for(d.nodes[:cut], "", "    ")
    flag = names.get("downsample")
    for i, (vname, nodes) in enumerate(d.variants.items()):
        test = f"{flag}" if len(d.variants) == 1 else f"{flag} == {vname!r}"
        if flag is not None:
            body.append(f"    {'elif' if i else 'if'} {test}:")
        body += lines_for(nodes, vname, "        " if flag is not None else "    ")
        body.append(f"{'        ' if flag is not None else '    '}s = {var[nodes[-1].local]}")
    if flag is not None:
        body += ["    else:", "        s = x"]
    elif not d.variants and adds:
        body.append("    s = x")
    body += lines_for(d.nodes[cut:], "", "    ")
    params = [p for p in d.params if re.search(rf"\b{re.escape(names[p])}\b", "\n".join(body))]
    sig = ["x", "name"] + [names[p] + (f"={d.defaults[p]!r}" if p in d.defaults else "") for p in params]
    if any("=" in a for a in sig):  # parameters with defaults last, as Python wants
        sig = [a for a in sig if "=" not in a] + [a for a in sig if "=" in a]
    shortcut = " or ".join(d.variants) + " shortcut" if d.variants else ("identity shortcut" if adds else "no shortcut")
    if d.optional:
        shortcut += " where `downsample` (else the identity)"
    doc = textwrap.fill(f"The '{d.kind}' block ({shortcut}); its layers are named `<name>.<layer>`.", 112,
                        initial_indent='    """', subsequent_indent="    ") + '"""'
    out = var[d.output]
    return f"def {fname}({', '.join(sig)}):\n{doc}\n" + "\n".join(body) + f"\n    return {out}\n", params


def _docstring(resolved: Resolved, fuse_bn: bool) -> list[str]:
    c, h, w = resolved.input_shape
    doc = [f'"""{_safe_text(resolved.name)}: {_safe_text(resolved.description)}', "",
           f"Generated by resdsl {__version__} (Keras 3 backend) from spec '{_safe_text(resolved.name)}'.",
           "Edit the spec and recompile rather than this file.",
           f"{resolved.params:,} parameters, {resolved.buffers:,} batch-norm statistics, "
           f"{resolved.macs / 1e9:.2f} G multiply-accumulates at {h}x{w}x{c}" +
           (" (counted before folding batch norm into the convs)." if fuse_bn else "."),
           "Layer names are resdsl's structural names (`layer2.0.conv1`), as in the PyTorch build,",
           "so `resdsl.port_weights` can copy weights between the two."]
    if len(resolved.graph) > 1500:
        doc += ["", "Functional Keras recurses once per layer while wiring a model: at this depth call",
                "sys.setrecursionlimit(20000) before build_model(), or use resdsl.build(..., backend='keras')."]
    # Within 120 columns, whatever the lengths of the spec's name and description.
    return [wrapped for line in doc for wrapped in (textwrap.wrap(line, 120) or [""])] + ['"""']


def emit(resolved: Resolved, fuse_bn: bool = False) -> str:
    top = plan(resolved, fuse_bn)  # also checks every op is expressible
    folds = fused_norms(resolved) if fuse_bn else {}
    g = resolved.graph
    check_block_names(BACKEND, resolved)
    fnames, functions = {}, []
    for d in resolved.defs.values():
        snake = re.sub(r"(?<!^)(?=[A-Z])", "_", d.name).lower()
        # 'block' alone is a local name of the emitted stage code; a spec's block '_' would camel to it
        fnames[d.name] = snake if "block" in snake and snake != "block" else f"{snake}_block"
        functions.append(_block_function(resolved, d, fnames[d.name], folds))
    def_params = {name: p for name, (_, p) in zip(resolved.defs, functions)}

    first_stage = next((i for i, it in enumerate(top) if it["kind"] == "stage"), len(top))
    last_stage = max((i for i, it in enumerate(top) if it["kind"] == "stage"), default=-1)
    if any(it["kind"] != "stage" for it in top[first_stage:last_stage + 1]):
        node = next(it["name"] for it in top[first_stage:last_stage + 1] if it["kind"] != "stage")
        raise unsupported(BACKEND, resolved, node, "emitted Keras code needs the stages to be consecutive")

    fused = set(folds.values())

    def chain(items, prev):
        lines = []
        for it in items:
            if it["inputs"] != [prev]:
                raise unsupported(BACKEND, resolved, it["name"], "stem and head must be a chain of layers")
            a = _Attrs(g.nodes[it["name"]]["attrs"], fused=it["name"] in fused)
            name = f"named({it['name']!r})" if "." in it["name"] else repr(it["name"])
            lines.append(f"    x = {_layer(it['op'], a, 'x', name)}")
            prev = it["name"]
        return lines, prev

    stem, prev = chain(top[:first_stage], "input")
    head_items = top[last_stage + 1:] if last_stage >= 0 else []  # no stages: the stem took every layer
    stage_rows = []
    for st in resolved.stages:
        first = 0
        for run in st.runs:
            d = resolved.defs[run.block_def]
            kw = {k: v for k, v in run.args.items() if k in def_params[d.name]
                  and (k not in d.defaults or v != d.defaults[k])}
            stage_rows.append(f"    ({st.name!r}, {fnames[d.name]}, {first}, {len(run.blocks)}, {kw!r}),")
            first += len(run.blocks)
    if top[first_stage:last_stage + 1]:
        prev = top[last_stage]["output"]
    head, _ = chain(head_items, prev)

    c, h, w = resolved.input_shape
    program = [src.rstrip("\n") for src, _ in functions] + [
        "\n".join(["# (stage, block function, index of the first block, number of blocks, arguments)",
                   "STAGES = [", *stage_rows, "]"]),
        "\n".join(["def build_model():",
                   f"    inputs = keras.Input(shape=({h}, {w}, {c}), name=\"input\")",
                   "    x = inputs", *stem,
                   "    for stage, block, first, count, kwargs in STAGES:",
                   "        for i in range(first, first + count):",
                   "            x = block(x, f\"{stage}.{i}\", **kwargs)" if stage_rows else "            pass",
                   *head, *_model_lines(resolved, fuse_bn)])]
    program = ["\n".join(_fit(line) for line in part.splitlines()) for part in program]
    defs = [_definitions()[n][0] for n in _needed("\n".join(program))]
    used = _names(ast.parse("\n".join(defs + program)))
    imports = ["import keras"] + (["import numpy as np"] if "np" in used else []) + \
        ["from keras import " + ", ".join(m for m in ("layers", "ops", "random") if m in used)]
    out = [*_docstring(resolved, fuse_bn), *imports, "",
           f"RESDSL_SPEC = {resolved.name!r}", f"RESDSL_FINGERPRINT = {fingerprint(resolved)!r}"]
    for part in defs + program:
        out += ["", "", part]
    return "\n".join(out) + "\n"


def _model_lines(resolved: Resolved, fuse_bn: bool) -> list[str]:
    """The end of build_model(): the model, with each of the spec's outputs (in
    order, named as the spec names them) when it has several."""
    if len(resolved.outputs) == 1:
        return [f"    return keras.Model(inputs, x, name={resolved.name!r})"]
    rows = [f"        {n!r}," for n in output_names(resolved, fuse_bn)]
    return ["    # The spec's outputs: the values of these layers, in this order.",
            "    graph = keras.Model(inputs, x)", "    outputs = [graph.get_layer(named(n)).output for n in (",
            *rows, "    )]", f"    model = keras.Model(inputs, outputs, name={resolved.name!r})",
            f"    model.output_names = {list(resolved.output_names)!r}", "    return model"]
