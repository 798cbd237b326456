"""Keras source: a module that imports only keras, written as the articles
write Keras ResNets — one function per block kind (their `identity_block` /
`convolutional_block`), stages as data, `build_model()` — and nested as
keras.nesting explains (a Block layer per block, a Stage layer per stage), so
that `build`, which runs this very module, builds deep networks fast.

Pure text generation from the IR: no framework is imported here. HANDLERS is
the op -> layer table (most ops are one row of keras.rules.LAYERS); the module
carries the text of the rules, layers and helpers it uses (copied from
rules.py, extra.py, helpers.py and nesting.py by codegen.Library).
"""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path

from ...ir import INPUT, OPS, SHORTCUT, BlockDef, Resolved, TemplateNode, rounding
from ...ir.expr import plain
from ...version import __version__
from ...vocab import DENSE_ACTIVATIONS
from ..codegen import Generator, Library, Unsupported, doc_text, expression, fit, network_arguments, rename, wrap
from ..common import fingerprint, node_inputs, unsupported
from . import rules
from .fold import fused_norms, output_names

BACKEND = "keras"
HERE = Path(__file__).parent
# Where an emitted module's helpers come from (rules.py: the decisions; extra.py:
# layers Keras lacks; helpers.py: the layers of a conv, max-pool or dense;
# nesting.py: Block, Stage, Network).
LIBRARY = Library(*(HERE / f for f in ("rules.py", "extra.py", "helpers.py", "nesting.py")),
                  Path(rounding.__file__))  # the rounding expressions call (`make_divisible`), as lowering does
# The modules an emitted module may import (the standard library's, then keras and numpy), by the name it uses.
STDLIB = {"difflib": "import difflib"}
IMPORTS = {"keras": "import keras", "np": "import numpy as np"}
FROM_KERAS = ("layers", "ops", "random")
# Ops whose layer takes its inputs as a list.
MERGES = {op for op, d in OPS.items() if d.merge}
ACTIVATIONS = set(DENSE_ACTIVATIONS)
# Names of build_model() and of the block functions' own arguments and locals.
BUILD_LOCALS = ("inputs", "x", "found", "model", "name", "runs", "input_shape", "num_classes", "include_top",
                "pooling")
# keras.applications' `pooling=` with include_top=False (names as resolve's `pooling=` gives them).
POOLINGS = {"avg": ("global_avgpool", "avgpool"), "max": ("global_maxpool", "global_pool")}
BLOCK_LOCALS = ("x", "name", "s")


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


# -- the handler table: op -> (layer constructor to apply, or None; or a helper call) --

def _sizes(a) -> list[str]:
    return [a.short("kernel"), a.short("stride"), a.short("padding")]


def _keywords(a, **spec) -> list[str]:
    """`keyword=value` for each keyword -> (attribute,) or (attribute, default),
    leaving out a constant that equals its default."""
    return [f"{kw}={a(attr[0])}" for kw, attr in spec.items()
            if len(attr) == 1 or a.is_param(attr[0]) or a.raw(attr[0], attr[1]) != attr[1]]


def _conv(a, x, name):
    kw = _keywords(a, use_bias=("bias", False), groups=("groups", 1), init=("init", "glorot_uniform"))
    if a.is_param("standardize"):
        raise Unsupported("weight standardisation on in some blocks of a kind and off in others")
    dilated = a.is_param("dilation") or a.raw("dilation", (1, 1)) != (1, 1)
    if dilated:
        kw.append(f"dilation={a.short('dilation')}")
    if a.raw("standardize", False):  # StdConv2D dilates and strides as DilatedConv2D does
        kw += ["layer=StdConv2D", f"eps={a('standardize_eps')}"]
    elif dilated:
        kw.append("layer=DilatedConv2D")
    return None, f"conv({', '.join([x, a('filters'), *_sizes(a), name, *kw])})"


def _maxpool(a, x, name):
    args = ", ".join([x, *_sizes(a), name])
    if a.is_param("ceil_mode"):
        return None, f"max_pool_ceil({args}) if {a('ceil_mode')} else max_pool({args})"
    return None, f"max_pool_ceil({args})" if a.raw("ceil_mode", False) else f"max_pool({args})"


def _dense(a, x, name):
    if not a.is_param("activation") and a.raw("activation", "linear") not in ACTIVATIONS:
        raise Unsupported(f"dense activation '{a.raw('activation')}'")
    kw = _keywords(a, activation=("activation", "linear"), use_bias=("bias", True), init=("init", "glorot_uniform"))
    return None, f"dense({', '.join([x, a('units'), name, *kw])})"


def _norm(a, x, name):
    kind = a.raw("type", "batchnorm")  # never a parameter: templates.STRUCTURAL
    inits = _keywords(a, gamma_initializer=("gamma_init", "ones"))
    if kind == "groupnorm":
        parts = [a("groups"), f"epsilon={a('eps')}", *inits, f"name={name}"]
        return f"layers.GroupNormalization({', '.join(parts)})", None
    if kind == "layernorm":  # over the channels at each position (timm's LayerNorm2d), or a vector's features
        parts = [f"epsilon={a('eps')}", *inits, f"name={name}"]
        return f"layers.LayerNormalization({', '.join(parts)})", None
    if kind != "batchnorm":
        raise Unsupported(f"norm type '{kind}'")
    m = a("momentum")
    momentum = f"keras_momentum({m})" if a.is_param("momentum") else repr(rules.keras_momentum(a.raw("momentum")))
    parts = [f"epsilon={a('eps')}", f"momentum={momentum}", *inits, f"name={name}"]
    return f"layers.BatchNormalization({', '.join(parts)})", None


def _zeropad(a, x, name):
    p = a("padding")
    pad = f"pad_pairs({p})" if a.is_param("padding") else repr(rules.pad_pairs(a.raw("padding")))
    return f"layers.ZeroPadding2D({pad}, name={name})", None


def _row(op: str):
    """A rules.LAYERS row: one layer, its arguments named by IR attributes."""
    def handler(a, x, name):
        cls, args, kwargs = rules.LAYERS[op]
        call = [a(k) if isinstance(k, str) else repr(k) for k in args] + _keywords(a, **kwargs) + [f"name={name}"]
        module = "" if cls in LIBRARY.definitions else "layers."
        return f"{module}{cls}({', '.join(call)})", None
    return handler


def _act(a, x, name):
    if not a.is_param("fn") and a.raw("fn") not in ACTIVATIONS:
        raise Unsupported(f"activation '{a.raw('fn')}'")
    return _row("act")(a, x, name)


def _avgpool(a, x, name):
    """AvgPool2DPad where padding or ceil_mode (or either set per block) needs it."""
    padded = a.is_param("padding") or a.is_param("ceil_mode") or \
        rules.avg_pool_padded(a.raw("padding"), a.raw("ceil_mode", False))
    return _row("avgpool_padded" if padded else "avgpool")(a, x, name)


HANDLERS = {**{op: _row(op) for op in rules.LAYERS}, "act": _act, "avgpool": _avgpool, "conv": _conv,
            "maxpool": _maxpool, "dense": _dense, "norm": _norm, "zeropad": _zeropad}
del HANDLERS["avgpool_padded"]  # a choice of avgpool's, not an op


def _node_attrs(n: TemplateNode, names: dict[str, str], fused: bool) -> _Attrs:
    params = {k: c for k, c in ((k, expression(v, names)) for k, v in n.attrs.items()) if c is not None}
    a = _Attrs(plain(dict(n.attrs.items())), params, fused=fused)
    for k, v in n.attrs.items():  # (stride, stride) reads `stride` where a size may be one int
        if isinstance(v, tuple) and k in params and len({expression(x, names) or repr(x) for x in v}) == 1:
            a.shorts[k] = expression(v[0], names)
    return a


def _layer_name(node: str) -> str:
    return f"named({node!r})" if "." in node else repr(node)


class _Emitter(Generator):
    BACKEND = BACKEND
    HANDLERS = HANDLERS
    LIBRARY = LIBRARY
    RESERVED = frozenset({*STDLIB, *IMPORTS, *FROM_KERAS, "build_model", "STAGES", "OUTPUTS", "RESDSL_SPEC",
                          "RESDSL_FINGERPRINT"})

    def __init__(self, r: Resolved, fuse_bn: bool):
        super().__init__(r, fuse_bn)
        self.folds = fused_norms(r) if fuse_bn else {}
        self.check()
        # Module-level functions: named like nothing the helpers use, not even a local of theirs.
        functions = self.names.fork(*LIBRARY.identifiers)
        self.fnames = {}
        for d in r.defs.values():
            snake = re.sub(r"(?<!^)(?=[A-Z])", "_", d.name).lower()
            self.fnames[d.name] = functions.take(snake if snake.endswith("block") else f"{snake}_block")
            self.names.taken.add(self.fnames[d.name])
        self.params: dict[str, dict[str, str]] = {}  # definition -> parameter -> its Python name

    def check(self) -> None:
        """What HANDLERS cannot see: the names of padding layers and of stages."""
        g = self.r.graph
        for n, d in g.nodes(data=True):
            if d["op"] in ("conv", "maxpool") and any(d["attrs"]["padding"]) and f"{n}_pad" in g:
                raise self.unsupported(n, f"its padding layer would be named '{n}_pad', which another layer "
                                          "already uses")
        for st in self.r.stages:
            if st.name in g:
                raise self.unsupported(self.r.blocks[0].input, f"stage '{st.name}' has the same name as a layer")

    def unsupported(self, node: str, why: str):
        return unsupported(BACKEND, self.r, node, why)

    def layer(self, node: str, op: str, a: _Attrs, x: str, name: str, in_block: bool) -> str:
        """One IR node as Keras code: a helper call, or a layer applied to x
        (`apply(...)` inside a block function: see keras.nesting)."""
        ctor, call = self.handle(node, op, a, x, name)
        if call is not None:
            return call
        x = f"[{x}]" if op in MERGES else x
        return f"apply({ctor}, {x})" if in_block else f"{ctor}({x})"

    # -- block functions -------------------------------------------------------
    def folded(self, d: BlockDef, variant: str, local: str) -> str | None:
        """The local of the conv a norm of definition `d` folds into (fuse_bn), or None."""
        node = self.where.get((d.name, variant, local))
        conv = self.folds.get(node) if node else None
        if conv is None:
            return None
        block = node[:len(node) - len(local) - 1]
        return conv[len(block) + 1:]

    def block_function(self, d: BlockDef) -> tuple[str, list[str]]:
        """One function per block definition, as keras.applications writes `block1(x, filters, ...,
        conv_shortcut=True, name=None)`: the shortcut path, where instances differ in it, is chosen
        by `downsample`. Returns the text and the parameters it takes."""
        local_names = self.names.fork(*BLOCK_LOCALS)
        names = self.params[d.name] = {n: local_names.take(n) for n in d.params + [k for k, _ in d.lets]}
        var = {INPUT: "x", SHORTCUT: "s"}

        def lines_for(nodes: list[TemplateNode], variant: str, indent: str) -> list[str]:
            out = []
            for n in nodes:
                conv = self.folded(d, variant, n.local)
                if conv is not None:  # a norm folded into its conv
                    var[n.local] = var[conv]
                    continue
                fused = any(self.folded(d, variant, m.local) == n.local for m in nodes)
                ins = ", ".join(var[i] for i in n.inputs)
                name = "named(name + " + json.dumps("." + n.local) + ")"
                node = self.where[(d.name, variant, n.local)]
                code = self.layer(node, n.op, _node_attrs(n, names, fused), ins, name, True)
                var[n.local] = local_names.take(n.local)
                out.append(f"{indent}{var[n.local]} = {code}")
            return out

        body = [f"    {names[k]} = {rename(t, names)}" for k, t in d.lets]
        adds = [i for i, n in enumerate(d.nodes) if SHORTCUT in n.inputs]
        cut = adds[0] if adds else len(d.nodes)
        body += lines_for(d.nodes[:cut], "", "    ")
        flag = names.get("downsample")
        for i, (vname, nodes) in enumerate(d.variants.items()):
            test = f"{flag}" if len(d.variants) == 1 else f"{flag} == {vname!r}"
            if flag is not None:
                body.append(f"    {'elif' if i else 'if'} {test}:")
            indent = "        " if flag is not None else "    "
            body += lines_for(nodes, vname, indent)
            body.append(f"{indent}s = {var[nodes[-1].local]}")
        if flag is not None:
            body += ["    else:", "        s = x"]
        elif not d.variants and adds:
            body.append("    s = x")
        body += lines_for(d.nodes[cut:], "", "    ")
        params = [p for p in d.params if re.search(rf"\b{re.escape(names[p])}\b", "\n".join(body))]
        sig = ["x", "name"] + [names[p] + (f"={d.defaults[p]!r}" if p in d.defaults else "") for p in params]
        if any("=" in a for a in sig):  # parameters with defaults last, as Python wants
            sig = [a for a in sig if "=" not in a] + [a for a in sig if "=" in a]
        shortcut = " or ".join(d.variants) + " shortcut" if d.variants else \
            ("identity shortcut" if adds else "no shortcut")
        if d.optional:
            shortcut += " where `downsample` (else the identity)"
        doc = "\n".join(wrap(f"The '{doc_text(d.kind)}' block ({shortcut}); its layers are named `<name>.<layer>`.",
                             112, initial_indent='    """', subsequent_indent="    ")) + '"""'
        text = f"def {self.fnames[d.name]}({', '.join(sig)}):\n{doc}\n" + "\n".join(body) + \
            f"\n    return {var[d.output]}\n"
        return text, params

    def stages(self, def_params: dict[str, list[str]]) -> str:
        lines = ["# Each stage: its name and runs of alike blocks (block function, how many, arguments).",
                 "STAGES = ["]
        for st in self.r.stages:
            rows = []
            for run in st.runs:
                d = self.r.defs[run.block_def]
                py = self.params[d.name]
                kw = {py[k]: v for k, v in run.args.items() if k in def_params[d.name]
                      and (k not in d.defaults or v != d.defaults[k])}
                rows.append(f"({self.fnames[d.name]}, {len(run.blocks)}, {kw!r})")
            one = f"    ({st.name!r}, [{', '.join(rows)}]),"
            if len(one) <= 120:
                lines.append(one)
            else:
                lines += [f"    ({st.name!r}, ["] + [fit(f"        {row},") for row in rows] + ["    ]),"]
        return "\n".join(lines + ["]"])

    # -- build_model -------------------------------------------------------------
    def top_items(self) -> list[dict]:
        """The network's own steps in order: stem and head nodes, and one per stage."""
        r, g, alias = self.r, self.r.graph, self.folds
        stage_of = {b: st for st in r.stages for b in st.blocks}
        info = {b.name: b for b in r.blocks}
        items: list[dict] = []
        for n in r.order():
            d = g.nodes[n]
            if d["op"] == "input" or n in alias:
                continue
            st = stage_of.get(d.get("block"))
            if st is None:
                items.append({"node": n, "inputs": [alias.get(u, u) for u in node_inputs(r, n)], "output": n})
            elif not any(it.get("stage") is st for it in items):
                first, last = info[st.blocks[0]], info[st.blocks[-1]]
                items.append({"node": n, "stage": st, "inputs": [alias.get(first.input, first.input)],
                              "output": alias.get(last.output, last.output)})
            elif items[-1].get("stage") is not st:
                raise self.unsupported(n, f"a layer between the blocks of stage '{st.name}'")
        return items

    def build_model(self, items: list[dict]) -> list[str]:
        r, args = self.r, network_arguments(self.r)
        c, h, w = r.input_shape
        shape = f"(None, None, {c})" if r.allows_any_input_size() else f"({h}, {w}, {c})"
        wanted = output_names(r, self.fuse_bn) if len(r.outputs) > 1 else []
        head = [it for it in items if "stage" not in it and r.graph.nodes[it["node"]]["section"] == "head"]
        if items[len(items) - len(head):] != head:
            head = []  # not at the end (a backbone's outputs): nothing to drop
        lines = [f"def build_model(input_shape=None, num_classes={args.num_classes!r}, include_top=True, "
                 "pooling=None):",
                 *self.build_doc(shape, bool(head or not wanted)), *self.argument_checks(args, shape, bool(wanted)),
                 f'    inputs = keras.Input(shape={shape} if input_shape is None else input_shape, name="input")']
        if wanted:
            lines.append("    found = {layer: None for _, layer in OUTPUTS}  # the outputs' values, as they are made")
        prev, users = "input", {}
        for it in items:
            for u in it["inputs"]:
                users[u] = users.get(u, 0) + 1
        chain = True
        for it in items:
            chain = chain and it["inputs"] == [prev] and users[prev] == 1
            prev = it["output"]
        local = self.names.fork(*BUILD_LOCALS)
        var = {"input": "x" if chain else "inputs"}
        if chain:
            lines.append("    x = inputs")
        stage_items = [it for it in items if "stage" in it]
        loop = chain and stage_items and items[items.index(stage_items[0]):][:len(stage_items)] == stage_items
        for it in items:
            if head and it is head[0]:  # keras.applications' include_top
                body, lines = lines, []
            x = ", ".join(var[u] for u in it["inputs"])
            out = "x" if chain else local.take(it["output"])
            if "stage" in it:
                tail = ", found" if wanted else ""
                if loop and it is stage_items[0]:
                    lines += ["    for name, runs in STAGES:", f"        x = stage(x, name, runs{tail})"]
                elif not loop:
                    lines.append(f"    {out} = stage({x}, *STAGES[{r.stages.index(it['stage'])}]{tail})")
            else:
                n = it["node"]
                a = _Attrs(r.graph.nodes[n]["attrs"], args.of(n), fused=n in set(self.folds.values()))
                lines.append(f"    {out} = {self.layer(n, r.graph.nodes[n]['op'], a, x, _layer_name(n), False)}")
                if it["output"] in wanted:
                    lines.append(f"    found[{it['output']!r}] = {out}")
            var[it["output"]] = out
        last = var[items[-1]["output"]] if items else var["input"]
        if head:
            lines = body + ["    if include_top:"] + [f"    {line}" for line in lines] + \
                self.pooling(items[-1]["node"], var[head[0]["inputs"][0]], last, "elif")
        elif not wanted:  # no head: include_top=False keeps the model as it is
            lines += self.pooling(items[-1]["node"] if items else "input", last, last, "if")
        if wanted:
            lines += ["    model = Network(inputs, [found[layer] for _, layer in OUTPUTS], "
                      f"name={r.name!r}, output_names=[name for name, _ in OUTPUTS])"]
        else:
            lines.append(f"    model = Network(inputs, {last}, name={r.name!r})")
        return lines + ["    model.resdsl_spec, model.resdsl_fingerprint = RESDSL_SPEC, RESDSL_FINGERPRINT",
                        "    return model"]

    def build_doc(self, shape: str, top: bool) -> list[str]:
        text = (f"A new keras.Model of the spec, initialised as it says. As keras.applications' models: `input_shape` "
                f"(height, width, channels; default {shape}), `num_classes` (the classifier's units)")
        text += (", `include_top=False` drops the head (its layers after the last stage), and `pooling` ('avg', "
                 "'max') then ends the model in a global pool." if top else
                 "; `include_top` and `pooling` do not apply (the model returns several outputs).")
        lines = wrap(text, 116, initial_indent='    """', subsequent_indent="    ")
        return lines[:-1] + [lines[-1] + '"""']

    def argument_checks(self, args, shape: str, several: bool) -> list[str]:
        """build_model's arguments refused where the network cannot take them (as keras.applications does)."""
        lines = []
        if args.classifier is None:
            lines += ["    if num_classes is not None:",
                      '        raise ValueError("this network has no classifier (no dense layer in its head) '
                      'to give num_classes")']
        elif "num_classes" in args.fixed:
            lines += [f"    if num_classes != {args.num_classes}:",
                      f'        raise ValueError("this network is built for num_classes={args.num_classes} only '
                      '(layers after its classifier fix their widths): change the spec")']
        if "in_channels" in args.fixed:
            lines += [f"    if input_shape is not None and input_shape[-1] != {args.in_channels}:",
                      f'        raise ValueError("this network is built for {args.in_channels} input channels only '
                      '(its stem has no conv to take others): change the spec")']
        if several:
            lines += ["    if not include_top or pooling is not None:",
                      '        raise ValueError("include_top and pooling do not apply: the model returns several '
                      'outputs")']
        else:
            lines += ["    if include_top and pooling is not None:",
                      '        raise ValueError("pooling applies only with include_top=False '
                      '(as in keras.applications)")']
        return lines

    def pooling(self, node: str, x: str, out: str, first: str) -> list[str]:
        """keras.applications' `pooling` (include_top=False): `first` is "if" or "elif"."""
        lines = []
        for key, (op, name) in POOLINGS.items():
            code = self.layer(node, op, _Attrs(dict(OPS[op].attrs())), x, repr(name), False)
            lines += [f"    {first if not lines else 'elif'} pooling == {key!r}:", f"        {out} = {code}"]
        lines += ["    elif pooling is not None:",
                  '        raise ValueError(f"pooling must be None, \'avg\' or \'max\', got {pooling!r}")']
        return lines + (["    else:", f"        {out} = {x}"] if out != x else [])

    def outputs(self) -> list[str]:
        if len(self.r.outputs) == 1:
            return []
        rows = [f"    ({n!r}, {layer!r})," for n, layer in zip(self.r.output_names, output_names(self.r, self.fuse_bn))]
        return ["\n".join(["# The spec's outputs, in order: (the model's name for it, the layer whose value it is).",
                           "OUTPUTS = [", *rows, "]"])]

    def docstring(self) -> list[str]:
        r = self.r
        c, h, w = r.input_shape
        doc = [f'"""{doc_text(r.name)}: {doc_text(r.description)}', "",
               f"Generated by resdsl {__version__} (Keras 3 backend) from spec '{doc_text(r.name)}'.",
               "Edit the spec and recompile rather than this file.",
               f"{r.params:,} parameters, {r.buffers:,} batch-norm statistics, "
               f"{r.macs / 1e9:.2f} G multiply-accumulates at {h}x{w}x{c}" +
               (" (counted before folding batch norm into the convs)." if self.fuse_bn else "."),
               "Layer names are resdsl's structural names (`layer2.0.conv1`), as in the PyTorch build,",
               "so `resdsl.port_weights` can copy weights between the two."]
        # Within 120 columns, whatever the lengths of the spec's name and description.
        return [wrapped for line in doc for wrapped in wrap(line)] + ['"""']

    def source(self) -> str:
        functions = [self.block_function(d) for d in self.r.defs.values()]
        def_params = {name: p for name, (_, p) in zip(self.r.defs, functions)}
        program = [text.rstrip("\n") for text, _ in functions]
        program += ([self.stages(def_params)] if self.r.stages else []) + self.outputs()
        program.append("\n".join(self.build_model(self.top_items())))
        program = ["\n".join(fit(line) for line in part.splitlines()) for part in program]
        defs = LIBRARY.texts("\n".join(program))
        used = {n.id for n in ast.walk(ast.parse("\n".join(defs + program))) if isinstance(n, ast.Name)}
        stdlib = [line for name, line in STDLIB.items() if name in used]
        imports = (stdlib + [""] if stdlib else []) + [line for name, line in IMPORTS.items()
                                                       if name in used or name == "keras"]
        imports += ["from keras import " + ", ".join(m for m in FROM_KERAS if m in used)]
        out = [*self.docstring(), *imports, "",
               f"RESDSL_SPEC = {self.r.name!r}", f"RESDSL_FINGERPRINT = {fingerprint(self.r)!r}"]
        for part in defs + program:
            out += ["", "", part]
        return "\n".join(out) + "\n"


def emit(resolved: Resolved, fuse_bn: bool = False) -> str:
    """Source of a module that imports only keras and defines `build_model()`."""
    return _Emitter(resolved, fuse_bn).source()
