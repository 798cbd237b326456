"""The code generator both emitters are written on (sqlglot's shape: a generator
base; each backend a handler table, op -> the code of its layer, and the
templates of its module).

What is the same in every emitted module lives here, once:

- `Generator`: the resolved network, its block definitions' first instances
  (`where`: where each node of a definition sits in the graph), the names the
  module has given out, and the handler table lookup with a located error for
  an op the backend cannot express;
- `Names`: a user-chosen name (a layer, block, stage or parameter name, the
  spec's name) as a Python identifier that shadows nothing the emitted file
  uses: no keyword, builtin, import, helper or argument;
- `Library`: the helpers a module carries, copied as text from real, linted
  Python files of the backend (torch/runtime.py; keras/rules.py, extra.py,
  helpers.py, nesting.py), only those the module uses;
- `doc_text`, `fit` and `fit_call`: spec text inside docstrings and lines
  within 120 columns;
- `network_arguments`: what the emitted network's arguments (`num_classes`,
  `in_channels`, as torchvision's and timm's models take them) change in the
  layers outside the stages;
- `load_source`: an emitted module executed in memory (what `build` runs).

Text generation only: nothing here imports a framework.
"""
from __future__ import annotations

import ast
import builtins
import hashlib
import io
import keyword
import linecache
import re
import sys
import textwrap
import threading
import tokenize
import types
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from ..errors import HintedError
from ..ir import OPS, Resolved
from ..ir.expr import is_symbolic, sym
from .common import WIDTH_OPS, node_inputs, unsupported

WIDTH = 120
BUILTINS = frozenset(dir(builtins))
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class Unsupported(HintedError):
    """An op or attribute value a handler cannot express; the generator locates it."""


# -- names --------------------------------------------------------------------

class Names:
    """Python identifiers given out in one emitted module (or one function of
    it): each user name maps to one that is no keyword, builtin or name in
    `reserved` (imports, helpers, arguments), and that no other name got."""

    def __init__(self, reserved=()):
        self.taken = set(reserved)

    def fork(self, *more: str) -> Names:
        """The names of a function inside the module: its arguments `more` taken too."""
        return Names(self.taken | set(more))

    def take(self, name: str, suffix: str = "_") -> str:
        """`name` made an identifier (other characters as `_`, a leading digit or
        dunder prefixed) and given out, with `suffix` appended until it is free."""
        v = re.sub(r"\W", "_", name)
        if not v.isidentifier():
            v = "arg_" + v
        if v.startswith("__"):  # `__class__` as a local breaks super(); dunders are Python's
            v = "arg" + v
        while keyword.iskeyword(v) or v in BUILTINS or v in self.taken:
            v += suffix
        self.taken.add(v)
        return v


def rename(text: str, names: dict[str, str]) -> str:
    """An expression with its parameters under their Python names."""
    return _IDENT.sub(lambda m: names.get(m.group(0), m.group(0)), text)


def expression(v, names: dict[str, str], literal=repr, collapse: bool = False) -> str | None:
    """Code for an attribute that is an expression of a block's parameters (a
    tuple of them: each part; with `collapse`, the one part where all are the
    same), or None for a plain value."""
    if is_symbolic(v):
        return rename(v.text, names)
    if isinstance(v, tuple) and any(is_symbolic(x) for x in v):
        parts = [rename(x.text, names) if is_symbolic(x) else literal(x) for x in v]
        return parts[0] if collapse and all(p == parts[0] for p in parts) else f"({', '.join(parts)})"
    return None


def doc_text(s: str) -> str:
    """A spec string made safe inside a triple-quoted docstring, with its value
    kept: backslashes and quotes escaped, control and other invisible characters
    written as escapes (so nothing can end the string or hide in the file)."""
    out = []
    for ch in str(s):
        if ch in '\\"':
            out.append("\\" + ch)
        elif ch == "\n" or ch.isprintable():
            out.append(ch)
        else:
            out.append(repr(ch)[1:-1])
    return "".join(out)


# -- lines --------------------------------------------------------------------

def wrap(text: str, width: int = WIDTH, **indents) -> list[str]:
    """Prose (a docstring's) in lines of at most `width`, never broken inside a
    word (an escape such as \\u2028 stays whole, as does a long name); an empty
    text is one empty line. `indents`: textwrap's initial_/subsequent_indent."""
    return textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False, **indents) or [""]


def fit(line: str, width: int = WIDTH) -> str:
    """A long line of code broken inside its brackets, after a comma where one
    fits (else after an opening bracket); continuation lines four columns in
    (eight for a def's parameters, apart from its body)."""
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


def fit_call(prefix: str, expr: str, indent: int = 8, width: int = WIDTH) -> list[str]:
    """`prefix + expr` on one line, or, if that is too long, black's layout (which
    the PyTorch emitter writes): a call with one argument per line (a list as
    the one argument, `nn.ModuleList([...])`: one item per line), and so on
    inside an argument that is itself too long; a long sum (a concat's input
    widths) in parentheses, one term per line."""
    one = prefix + expr
    if len(one) + indent <= width:
        return [one]
    call = ast.parse(expr, mode="eval").body
    seg = lambda node: ast.get_source_segment(expr, node)  # noqa: E731
    if isinstance(call, ast.BinOp) and isinstance(call.op, (ast.Add, ast.Sub)):
        terms, node = [], call
        while isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
            terms.append(("+ " if isinstance(node.op, ast.Add) else "- ") + seg(node.right))
            node = node.left
        return [f"{prefix}("] + [f"    {t}" for t in [seg(node), *reversed(terms)]] + [")"]
    if not isinstance(call, ast.Call):
        return [one]

    def items(parts: list[tuple[str, str]]) -> list[str]:
        """(keyword prefix, code) per argument, each on its own line(s), 4 deeper."""
        out = []
        for key, code in parts:
            inner = fit_call(key, code, indent + 4, width)
            out += [f"    {line}" for line in inner[:-1]] + [f"    {inner[-1]},"]
        return out
    if len(call.args) == 1 and not call.keywords and isinstance(call.args[0], ast.List):
        return [f"{prefix}{seg(call.func)}(["] + items([("", seg(e)) for e in call.args[0].elts]) + ["])"]
    args = [("", seg(a)) for a in call.args] + [(f"{k.arg}=", seg(k.value)) for k in call.keywords]
    return [f"{prefix}{seg(call.func)}("] + items(args) + [")"]


# -- helpers copied into emitted modules ----------------------------------------

def _names_in(tree) -> frozenset:
    return frozenset(n.id for n in ast.walk(tree) if isinstance(n, ast.Name))


class Library:
    """The top-level definitions (functions, classes, assignments) of helper
    files, which emitted modules carry as text: each with its decorators and the
    comment lines just above it."""

    def __init__(self, *paths: Path):
        self.paths = paths

    @cached_property
    def definitions(self) -> dict[str, tuple[str, frozenset]]:
        """name -> (text, names of other definitions it uses), in file order."""
        out = {}
        for path in self.paths:
            text = path.read_text(encoding="utf-8")
            lines = text.splitlines()
            for node in ast.parse(text).body:
                if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                    name = node.name
                elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                    name = node.targets[0].id
                else:
                    continue
                start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", ())]) - 1
                while start and lines[start - 1].startswith("#"):
                    start -= 1
                # To the end of the definition's code, not a comment after it (offsets count UTF-8 bytes).
                last = lines[node.end_lineno - 1].encode("utf-8")[:node.end_col_offset].decode("utf-8")
                text = "\n".join(lines[start:node.end_lineno - 1] + [last])
                out[name] = (text, _names_in(node) - {name})
        return out

    @cached_property
    def identifiers(self) -> frozenset:
        """Every name the definitions use, locals included."""
        return frozenset().union(*(_names_in(ast.parse(text)) for text, _ in self.definitions.values()))

    def needed(self, code: str) -> list[str]:
        """The definitions `code` uses, and those they use, in file order."""
        defs = self.definitions
        todo, seen = set(_names_in(ast.parse(code)) & defs.keys()), set()
        while todo:
            name = todo.pop()
            seen.add(name)
            todo |= (defs[name][1] & defs.keys()) - seen
        return [n for n in defs if n in seen]

    def texts(self, code: str) -> list[str]:
        return [self.definitions[n][0] for n in self.needed(code)]


# -- the generator base -------------------------------------------------------

class Generator:
    """What each backend's emitter builds on. A subclass sets BACKEND, HANDLERS
    (op -> function of the op's attributes, returning code, raising Unsupported)
    and RESERVED (the names its modules use besides their helpers)."""

    BACKEND = ""
    HANDLERS: dict = {}
    RESERVED: frozenset = frozenset()
    LIBRARY: Library = Library()

    def __init__(self, resolved: Resolved, fuse_bn: bool = False):
        self.r, self.fuse_bn = resolved, fuse_bn
        self.names = Names(self.RESERVED | self.LIBRARY.definitions.keys())
        # where each definition node sits in the graph (its first instance), for errors and shapes
        self.where: dict[tuple[str, str, str], str] = {}  # (definition, variant or "", local) -> node
        for b in resolved.blocks:
            d = resolved.defs[b.block_def]
            for n in d.nodes:
                self.where.setdefault((d.name, "", n.local), f"{b.name}.{n.local}")
            for n in d.variants.get(b.variant, []):
                self.where.setdefault((d.name, b.variant, n.local), f"{b.name}.{n.local}")

    def handle(self, node: str, op: str, *args) -> str:
        """The code for `op` at graph node `node` (located error if the backend has none)."""
        try:
            if op not in self.HANDLERS:
                raise Unsupported("")
            return self.HANDLERS[op](*args)
        except Unsupported as exc:
            raise unsupported(self.BACKEND, self.r, node, str(exc)) from None


# -- the network's arguments -------------------------------------------------

@dataclass
class NetworkArguments:
    """What an emitted network's `num_classes` and `in_channels` reach: for each
    stem or head layer, attribute -> its code in terms of them (the classifier's
    `units`, the input width of the layers after the input or the classifier).
    Where the input's width reaches the stages (a stem without a conv), or
    flows through a layer whose width cannot be written as code of it, the
    module takes only the spec's value (`fixed`, refused otherwise at run time)."""
    in_channels: int
    num_classes: int | None          # the classifier's units; None: the head has no dense layer
    classifier: str | None           # the last dense layer of the head (resolve's `num_classes=` too)
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    fixed: set[str] = field(default_factory=set)  # of "in_channels", "num_classes"

    def of(self, node: str) -> dict[str, str]:
        return self.codes.get(node, {})


def network_arguments(r: Resolved) -> NetworkArguments:
    g = r.graph
    dense = [n for n in r.order() if g.nodes[n]["section"] == "head" and g.nodes[n]["op"] == "dense"]
    classifier = dense[-1] if dense else None
    out = NetworkArguments(r.input_shape[0], g.nodes[classifier]["attrs"]["units"] if classifier else None,
                           classifier)
    chans: dict[str, object] = {}  # node -> its channels, where they are code of an argument
    for n in r.order():
        d = g.nodes[n]
        if d["op"] == "input":
            chans[n] = sym(d["shape"][0], "in_channels")
            continue
        ins = node_inputs(r, n)
        symbolic = [chans[u] for u in ins if u in chans]
        if n == classifier:
            out.codes.setdefault(n, {})["units"] = "num_classes"
        if symbolic:
            names = {a for a in ("in_channels", "num_classes") if any(a in x.text for x in symbolic)}
            width = OPS[d["op"]].channels(d["attrs"], [chans.get(u, g.nodes[u]["shape"][0]) for u in ins]) \
                if d["section"] in ("stem", "head") else None
            if width is None or (ins[0] in chans and d["op"] not in WIDTH_OPS and not is_symbolic(width)):
                out.fixed |= names  # past the stem, into a flatten, or a width the layer fixes itself
                continue
            if ins[0] in chans and d["op"] in WIDTH_OPS:
                out.codes.setdefault(n, {})["in_channels"] = chans[ins[0]].text
            if is_symbolic(width):
                chans[n] = width
        if n == classifier:
            chans[n] = sym(out.num_classes, "num_classes")
    return out


# -- running emitted source ------------------------------------------------------

# Held while code is generated and compiled: CPython 3.11 before 3.11.8 tracks the
# AST recursion depth per interpreter, not per thread, so two threads parsing at
# once fail with "SystemError: AST constructor recursion depth mismatch".
CODE_LOCK = threading.RLock()


def load_source(source: str, name: str, backend: str) -> types.ModuleType:
    """Emitted source executed as a module, once per distinct text: registered in
    sys.modules under a name derived from the text (rebuilding a spec reuses its
    classes), and with linecache, so tracebacks and `inspect.getsource` show it."""
    digest = hashlib.sha256(source.encode("utf-8")).hexdigest()[:12]
    modname = f"resdsl_generated_{''.join(c if c.isalnum() else '_' for c in name)}_{digest}"
    module = sys.modules.get(modname)
    if module is not None:
        return module
    with CODE_LOCK:
        return _load(source, modname, backend)


def _load(source: str, modname: str, backend: str) -> types.ModuleType:
    filename = f"<resdsl-{backend} {modname}>"
    module = types.ModuleType(modname)
    module.__file__ = filename
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    # Our own generated code: spec strings reach it only as escaped literals (doc_text, repr).
    exec(compile(source, filename, "exec"), module.__dict__)  # noqa: S102
    sys.modules[modname] = module
    return module
