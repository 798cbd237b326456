"""Python source of a PyTorch module for a resolved network; imports no torch.

Layout of an emitted module: a marker comment, a docstring (spec name,
description, counts), imports, RESDSL_SPEC / RESDSL_FINGERPRINT, the runtime
helpers it uses (copied from torch/runtime.py), one nn.Module class per block kind,
STAGES (runs of identical blocks as data, so the source does not grow with depth),
the network class and `build_model()`. `resdsl.build` executes this same text.
"""
from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from ...errors import SpecError
from ...io import MARKER
from ...ir import INPUT, SHORTCUT, BlockDef, Resolved, TemplateNode, rounding
from ...ir.expr import plain, sym
from ...ir.templates import channels as def_channels
from ...version import __version__
from ..codegen import Generator, Library, doc_text, expression, network_arguments, rename, wrap
from ..common import WIDTH_OPS, _attrs, _camel, fingerprint, unsupported
from .ops import FRESH_OPS, HANDLERS, INPLACE_ACTS, LIST_INPUTS, Attrs, literal_value, reserved_why
from .outputs import backbone_attrs, find_taps
from .scope import Layer, NameClash, Scope, access

BACKEND = "torch"
RUNTIME = Path(__file__).with_name("runtime.py")
# Constructor parameters in this order first, as torchvision writes them.
ARG_ORDER = ("in_channels", "filters", "width", "out_channels", "stride", "groups")
SHORTCUT_TEXT = {"identity": "an identity shortcut", "none": "no shortcut (a plain block)",
                 "projection": "a projection shortcut", "zeropad": "a zero-padding shortcut (option A)",
                 "subsample": "a subsampling shortcut", "custom": "its own shortcut",
                 "avg_down": "an average-pool projection shortcut (ResNet-D)"}


def _foldable(r, node: str) -> bool:
    """A batch norm over a feature map: group norm's statistics are per sample and a
    1-D norm follows no conv, so neither folds; nor does a norm after a weight-
    standardised conv, whose weights are standardised again on every call."""
    d = r.graph.nodes[node]
    if d["op"] != "norm" or d["attrs"]["type"] != "batchnorm" or len(d["in_shapes"][0]) != 3:
        return False
    return not any(r.graph.nodes[u]["attrs"].get("standardize") for u in r.graph.predecessors(node))


def _list_call(op: str, path: str, n: int) -> str | None:
    """The forward expression of a module that takes its inputs as one list."""
    return f"{access(path)}([{', '.join(f'{{{i}}}' for i in range(n))}])" if op in LIST_INPUTS else None


# The runtime, and the rounding that expressions call (`make_divisible`), which lowering runs from the same file.
RUNTIME_LIBRARY = Library(RUNTIME, Path(rounding.__file__))


def runtime_source(code: str) -> str:
    """The runtime definitions `code` uses, with what they need, in file order."""
    return "\n\n\n".join(RUNTIME_LIBRARY.texts(code))


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


def _node_attrs(r: Resolved, node: str, scope_nodes: set[str], params: dict, kept: set[str]) -> Attrs:
    """`kept`: nodes whose values the network returns, which nothing may overwrite."""
    g, d = r.graph, r.graph.nodes[node]
    ins = [u for u, _, _ in sorted(g.in_edges(node, data="port"), key=lambda e: e[2])]
    src = g.nodes[ins[0]] if ins else None
    fresh = (src is not None and ins[0] in scope_nodes and src["op"] in FRESH_OPS and g.out_degree(ins[0]) == 1
             and ins[0] not in kept and src["attrs"].get("activation", "linear") == "linear")
    inplace = fresh and (d["op"] == "add" and d["shape"] == d["in_shapes"][0]  # a broadcast grows its first input
                         or (d["op"] == "act" and d["attrs"]["fn"] in INPLACE_ACTS))
    return Attrs(_attrs(d), params, inplace, len(d["in_shapes"][0]) if d["in_shapes"] else 3)


def _code(v, names: dict[str, str]) -> str | None:
    """Code for a symbolic value (its expression, with parameters under their
    Python names; a tuple of equal parts as the one), or None for a plain one."""
    return expression(v, names, literal_value, collapse=True)


def _template_attrs(d: BlockDef, n: TemplateNode, chans: dict, users: dict, rank: int,
                    names: dict[str, str], variant: str = "", grows: bool = False) -> Attrs:
    """A definition's node as the op handlers see it: plain values to decide on,
    and code for the attributes that are expressions of the parameters."""
    values, params = {}, {}
    for k, v in n.attrs.items():
        values[k] = plain(v)
        code = _code(v, names)
        if code is not None:
            params[k] = code
    if n.op in WIDTH_OPS:
        width = chans[n.inputs[0]]
        values["in_channels"] = plain(width)
        code = _code(width, names)
        if code is not None:
            params["in_channels"] = code
    src = next((m for m in d.nodes + d.variants.get(variant, []) if n.inputs and m.local == n.inputs[0]), None)
    fresh = (src is not None and src.op in FRESH_OPS and users.get(src.local) == 1
             and src.attrs.get("activation", "linear") == "linear")
    inplace = fresh and (n.op == "add" and not grows or (n.op == "act" and values["fn"] in INPLACE_ACTS))
    return Attrs(values, params, inplace, rank)


def _class(name: str, doc: str, sig: str, attrs: list[str], init: list[str], forward: list[str],
           base: str = "nn.Module", methods: list[tuple[str, str, list[str]]] = ()) -> str:
    """`methods`: (name, arguments after self, body lines), written before forward."""
    doc = "\n".join(wrap(doc, 112, subsequent_indent="    "))
    head = f"    def __init__(self{sig}):"
    if len(head) > 120:
        head = "\n".join(wrap(head, 120, subsequent_indent=" " * 17))
    lines = [f"class {name}({base}):", f'    """{doc}"""', ""]
    lines += [f"    {a}" for a in attrs] + ([""] if attrs else [])
    lines += [head, "        super().__init__()"]
    lines += [f"        {x}" for x in init]
    for mname, args, body in [*methods, ("forward", "x", forward)]:
        lines += ["", f"    def {mname}(self, {args}):"] + [f"        {x}" for x in body]
    return "\n".join(lines)


def _scope(r: Resolved, layers: list[Layer], owner_node: dict[str, str], keep: tuple[str, ...] = ()) -> Scope:
    try:
        return Scope(layers, keep)
    except NameClash as exc:
        node = owner_node[exc.path] if exc.path in owner_node else next(iter(owner_node.values()))
        raise _error(r, node, "name-clash", f"the {BACKEND} backend cannot build layer '{node}': {exc}",
                     "rename one of the layers with `name:`") from None


def _fuse_attr(fuse: list[tuple[str, str]], fuse_bn: bool) -> list[str]:
    """The (conv, norm) pairs `fold_batchnorm` folds, as a class attribute."""
    pairs = [f"({literal_value(c)}, {literal_value(n)})" for c, n in fuse] if fuse_bn else []
    if not pairs:
        return []
    one = f"FUSE = ({', '.join(pairs)}{',' if len(pairs) == 1 else ''})"
    if len(one) <= 112:
        return [one]
    lines = ["FUSE = ("]
    for (c, n), text in zip(fuse, pairs):
        if len(text) <= 110:
            lines.append(f"    {text},")
        else:
            lines += ["    (", f"        {literal_value(c)},", f"        {literal_value(n)},", "    ),"]
    return lines + [")"]


class _Emitter(Generator):
    BACKEND = BACKEND
    HANDLERS = HANDLERS
    LIBRARY = RUNTIME_LIBRARY
    RESERVED = frozenset({"torch", "nn", "F", "self", "super", "x", "build_model", "STAGES", "RESDSL_SPEC",
                          "RESDSL_FINGERPRINT"})

    def __init__(self, r: Resolved, fuse_bn: bool):
        super().__init__(r, fuse_bn)
        self.class_of = {name: self._class_name(name, "Block") for name in r.defs}
        self.net_name = self._class_name(_camel(r.name), "Net")
        self.params = {name: self._args(d) for name, d in r.defs.items()}
        self.taps = find_taps(r)
        self.args = network_arguments(r)

    def _class_name(self, name: str, fallback: str) -> str:
        if not name or not name.isidentifier():
            name = fallback + re.sub(r"\W", "_", name)
        return self.names.take(name, suffix=fallback)

    def _args(self, d: BlockDef) -> dict[str, str]:
        """Parameter -> its Python name: the derived values (`width`) are locals of __init__ too."""
        names = self.names.fork()
        return {n: names.take(n) for n in d.params + [k for k, _ in d.lets]}

    def _layer(self, d: BlockDef, n: TemplateNode, chans: dict, users: dict, variant: str = "") -> Layer:
        """`chans`: each variant's channel counts (templates.channels), "" for the main path."""
        node = self.where[(d.name, variant, n.local)]
        _check_name(self.r, node, n.local)
        d_node = self.r.graph.nodes[node]
        rank = len(d_node["in_shapes"][0]) if d_node["in_shapes"] else 3
        grows = bool(d_node["in_shapes"]) and d_node["shape"] != d_node["in_shapes"][0]  # a broadcast
        attrs = _template_attrs(d, n, chans[variant], users, rank, self.params[d.name], variant, grows)
        ctor = self.handle(node, n.op, attrs)
        return Layer(n.local, n.op, ctor, list(n.inputs), n.role, foldable=_foldable(self.r, node),
                     code=_list_call(n.op, n.local, len(n.inputs)))

    def block_class(self, d: BlockDef) -> str:
        names = self.params[d.name]
        first = next(b for b in self.r.blocks if b.block_def == d.name)
        in_channels = sym(first.args["in_channels"], "in_channels")
        chans = {v: def_channels(d, in_channels, v) for v in ["", *d.variants]}
        everything = d.nodes + [n for ns in d.variants.values() for n in ns]
        users: dict[str, int] = {}
        for n in everything:
            for u in n.inputs:
                users[u] = users.get(u, 0) + 1
        tapped = self.taps.defs.get(d.name, [])
        for u in tapped:  # a value the network returns: nothing may overwrite it
            users[u] = users.get(u, 0) + 1
        layers = [self._layer(d, n, chans, users) for n in d.nodes]
        shortcut = None
        if not d.variants:  # the identity, or no addition at all
            layers = [replace(la, inputs=[INPUT if u == SHORTCUT else u for u in la.inputs]) for la in layers]
        elif d.shortcut_param is None:  # every instance has the one shortcut path: plain layers
            (vname, nodes), = d.variants.items()
            pos = next(i for i, la in enumerate(layers) if SHORTCUT in la.inputs)
            layers[pos:pos] = [self._layer(d, n, chans, users, vname) for n in nodes]
            for la in layers:
                la.inputs = [nodes[-1].local if u == SHORTCUT else u for u in la.inputs]
        else:
            shortcut = self._shortcut(d, chans, users)
            pos = next(i for i, la in enumerate(layers) if SHORTCUT in la.inputs)
            layers.insert(pos, shortcut)
        owner = {la.path: self.where[(d.name, "", la.path)] for la in layers if (d.name, "", la.path) in self.where}
        scope = _scope(self.r, layers, owner, tuple(tapped))
        n = len(d.instances)
        where = ", ".join(d.instances[:3]) + (f", ... ({n} blocks)" if n > 3 else "")
        kinds = " or ".join(dict.fromkeys(SHORTCUT_TEXT.get(v if v in SHORTCUT_TEXT else v.rsplit("_", 1)[0], v)
                                          for v in d.variants))
        if d.optional:
            kinds = (kinds + " where the shape changes, else " if kinds else "") + SHORTCUT_TEXT["identity"]
        has_add = any(x.op == "add" for x in d.nodes)
        text = kinds if has_add else SHORTCUT_TEXT["none"]
        doc = doc_text(f"A '{d.kind}' block with {text}: {where}.")
        sig = "".join(f", {names[p]}" + (f"={literal_value(d.defaults[p])}" if p in d.defaults else "")
                      for p in d.params)
        lets = [f"{names[k]} = {rename(t, names)}" for k, t in d.lets]
        init = lets + scope.init_lines()
        fuse = scope.fuse_pairs() + (shortcut.fuse if shortcut is not None else [])
        methods = []
        if tapped:
            self._check_taps(d, tapped, layers)
            methods = [("forward_taps", "x", ['"""forward, also returning the values of ' + ", ".join(tapped)
                                              + ' (outputs of the network)."""']
                        + scope.forward_lines({"main": "y", "shortcut": "s"}, outputs=[d.output, *tapped]))]
        return _class(self.class_of[d.name], doc, sig, _fuse_attr(fuse, self.fuse_bn), init,
                      scope.forward_lines({"main": "y", "shortcut": "s"}), methods=methods)

    def _check_taps(self, d: BlockDef, tapped: list[str], layers: list[Layer]) -> None:
        """An output inside an optional shortcut is built by some instances only: refuse it."""
        paths = {la.path for la in layers}
        for b in (b for b in self.r.blocks if b.block_def == d.name):
            for local in self.taps.blocks.get(b.name, ()):
                if local in paths:
                    continue
                node, spec = f"{b.name}.{local}", self.r.spec
                span = spec.span(("outputs", self.r.outputs.index(node))) if spec is not None else None
                raise _error(self.r, node, "unsupported-output",
                             f"the {BACKEND} backend cannot return '{node}': it lies inside the "
                             "shortcut that only some blocks of the kind build",
                             "name the block's output, or a layer on its main path", span)

    def _shortcut(self, d: BlockDef, chans: dict, users: dict) -> Layer:
        """The optional shortcut path as one module, built only by the instances that
        have one (`downsample`), and the addition's second input: the block input
        where it is None. A chain is an nn.Sequential; other paths get a class."""
        inits, top, sources, fuse = [], None, {}, []
        names = self.params[d.name]
        for vname, nodes in d.variants.items():
            sub = [self._layer(d, n, chans, users, vname) for n in nodes]
            tops = {la.path.split(".")[0] for la in sub}
            sub_scope = _scope(self.r, sub, {la.path: self.where[(d.name, vname, la.path)] for la in sub})
            top, sources[vname] = tops.pop(), nodes[0].inputs[0]
            chain = sub_scope.collapsed()
            if len(tops) or len(chain) != 1 or chain[0].path != top:
                first = self.where[(d.name, vname, nodes[0].local)]
                if len(d.variants) > 1 or tops or any(len(la.inputs) != 1 for la in sub):
                    raise _error(self.r, first, "unsupported-shortcut",
                                 f"the {BACKEND} backend needs a block's optional shortcut under one name "
                                 f"(`downsample.0`, `downsample.1`, ... or `shortcut.conv`, ...)")
                inits.append((vname, [self._shortcut_class(d, top, sub, names)]))  # folds its own norms
            else:
                inits.append((vname, sub_scope.init_lines(indent=12)))
                fuse += [p for p in sub_scope.fuse_pairs() if p not in fuse]
        flag = names["downsample"]
        if len(inits) == 1:
            lines = [f"if {flag}:"] + [f"    {x}" for x in inits[0][1]] + ["else:", f"    {access(top)} = None"]
            if len(inits[0][1]) == 1 and len(inits[0][1][0]) + len(f" if {flag} else None") <= 112:
                lines = [f"{inits[0][1][0]} if {flag} else None"]
        else:
            lines = []
            for i, (vname, body) in enumerate(inits):
                lines += [f"{'elif' if i else 'if'} {flag} == {literal_value(vname)}:"] + [f"    {x}" for x in body]
            lines += ["else:", f"    {access(top)} = None"]
        inputs, read = self._shortcut_sources(d, top, sources, lines)
        call = f"{access(top)}({read})"
        code = f"{{0}} if {access(top)} is None else {call}" if d.optional else call
        return Layer(SHORTCUT, "shortcut", None, [INPUT, *inputs], "shortcut", False, init_code=lines, code=code,
                     fuse=fuse)

    def _shortcut_sources(self, d: BlockDef, top: str, sources: dict[str, str], lines: list[str]):
        """The tensors the shortcut variants read, and the forward expression that
        picks the built variant's: one source is read as it is; two (keras.applications'
        V2 block projects the pre-activation, subsamples x) are told apart by a flag
        set beside the path, `<top>_reads_<source>`."""
        distinct = list(dict.fromkeys(sources.values()))
        if len(distinct) == 1:
            return distinct, "{1}"
        if len(distinct) > 2:
            first = self.where[(d.name, next(iter(sources)), d.variants[next(iter(sources))][0].local)]
            raise _error(self.r, first, "unsupported-shortcut",
                         f"the {BACKEND} backend builds a block's optional shortcut variants from at most "
                         f"two tensors (here {', '.join(distinct)})")
        other = distinct[0] if distinct[0] != INPUT else distinct[1]
        attr = f"{top}_reads_{re.sub(r'[^0-9A-Za-z_]', '_', other)}"
        reading = [v for v, src in sources.items() if src == other]
        flag = self.params[d.name]["downsample"]
        lines.append(f"self.{attr} = {flag} in {tuple(reading)!r}" if len(reading) > 1
                     else f"self.{attr} = {flag} == {literal_value(reading[0])}")
        rest = next(src for src in distinct if src != other)
        return [other, rest], f"{{1}} if self.{attr} else {{2}}"

    def _shortcut_class(self, d: BlockDef, top: str, sub: list[Layer], names: dict[str, str]) -> str:
        """A shortcut path that is not a chain, as a small nn.Module of its own (its
        layers keep their names under `top`, so weights keep theirs); returns the
        line that builds it."""
        inner = [replace(la, path=la.path[len(top) + 1:],
                         inputs=[INPUT if u not in {m.path for m in sub} else u[len(top) + 1:] for u in la.inputs])
                 for la in sub]
        scope = _scope(self.r, inner, {})
        used = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", " ".join(la.ctor for la in inner)))
        args = [names[p] for p in d.params + [k for k, _ in d.lets] if names[p] in used]
        cls = self._class_name(f"{self.class_of[d.name]}{_camel(top)}", "Path")
        doc = doc_text(f"The '{top}' path of {self.class_of[d.name]} blocks that have one.")
        fuse = _fuse_attr(scope.fuse_pairs(), self.fuse_bn)
        self.extra.append(_class(cls, doc, "".join(f", {a}" for a in args), fuse, scope.init_lines(),
                                 scope.forward_lines({"main": "y", "shortcut": "y"})))
        return f"{access(top)} = {cls}({', '.join(args)})"

    def stages(self) -> str:
        lines = ["# Each stage: its name and runs of identical blocks (block class, how many, constructor arguments).",
                 "STAGES = ["]
        for st in self.r.stages:
            lines.append(f"    ({literal_value(st.name)}, [")
            for run in st.runs:
                d = self.r.defs[run.block_def]
                py = self.params[d.name]
                items = [f'"{py[k]}": {literal_value(run.args[k])}' for k in d.params
                         if k not in d.defaults or run.args[k] != d.defaults[k]]
                cls = self.class_of[d.name]
                one = f"        ({cls}, {len(run.blocks)}, {{{', '.join(items)}}}),"
                if len(one) <= 120:
                    lines.append(one)
                else:
                    lines += [f"        ({cls}, {len(run.blocks)}, {{"]
                    lines += [f"            {item}," for item in items] + ["        }),"]
            lines.append("    ]),")
        return "\n".join(lines + ["]"])

    def _top_layers(self, split: set[str]) -> tuple[list[Layer], dict[str, str], dict[str, str]]:
        """The network's own layers: stem and head layers and one call per stage, or
        per block for the stages in `split`; a block with outputs inside is called
        through `forward_taps`, whose list is unpacked by `code`-only layers. Also
        returns IR node -> the path holding its value, and path -> IR node."""
        r, g = self.r, self.r.graph
        layers: list[Layer] = []
        top: dict[str, str] = {}      # IR node -> path of the top-level layer producing it
        owner: dict[str, str] = {}
        outer = {n for n, d in g.nodes(data=True) if d["section"] in ("stem", "head")}
        stage_spans = {st.name: st.span for st in r.stages}
        binfo = {b.name: b for b in r.blocks}
        for n, d in g.nodes(data=True):
            if d["section"] == "input":
                top[n] = INPUT
                continue
            if d["section"] == "stage":
                stage = d["stage"]
                unit = d["block"] if stage in split else stage
                if unit not in owner:
                    _check_name(r, n, stage, stage_spans.get(stage))
                    if stage in owner or (unit != stage and any(la.path == stage for la in layers)):
                        raise _error(r, n, "name-clash", f"stage '{stage}' has the name of another layer",
                                     "rename the stage or the layer")
                    ins = [top[u] for u in g.predecessors(n) if u in top]
                    loop = [] if any(la.op in ("stage", "block") for la in layers) else self._stage_loop()
                    layers.append(Layer(unit, "stage" if unit == stage else "block", None, ins[:1], "main",
                                        False, init_code=loop))
                    owner[unit] = n
                    self._unpack_taps(layers, unit, binfo.get(unit), top)
                if unit not in self.taps.blocks:
                    top[n] = unit
                continue
            _check_name(r, n, n)
            if n in owner:
                raise _error(r, n, "name-clash", f"layer '{n}' has the name of a stage", "rename the layer")
            ins = [top[u] for u, _, _ in sorted(g.in_edges(n, data="port"), key=lambda e: e[2])]
            ctor = self.handle(n, d["op"], _node_attrs(r, n, outer, self.args.of(n), self.taps.nodes))
            layers.append(Layer(n, d["op"], ctor, ins, "main", foldable=_foldable(r, n),
                                code=_list_call(d["op"], n, len(ins))))
            top[n], owner[n] = n, n
        return layers, top, owner

    def _unpack_taps(self, layers: list[Layer], unit: str, b, top: dict[str, str]) -> None:
        """A block with outputs inside: call `forward_taps` and pick its values."""
        if b is None or unit not in self.taps.blocks:
            return
        layers[-1].code = f"{access(unit)}.forward_taps({{0}})"
        layers[-1].role = "taps"
        tapped = self.taps.defs[b.block_def]
        key = unit.replace(".", "_")
        for i, local in enumerate([None] + tapped):
            if local is None or local in self.taps.blocks[unit]:
                path = f"<{key} {i}>"  # no dots: not a module path
                layers.append(Layer(path, "pick", None, [unit], "main", code=f"{{0}}[{i}]"))
                top[b.output if local is None else f"{unit}.{local}"] = path

    def network_class(self) -> str:
        r, g = self.r, self.r.graph
        layers, top, owner = self._top_layers(set())
        kept = tuple(n for n in r.outputs if top.get(n) == n)  # stem and head layers the network returns
        scope = _scope(r, layers, owner, kept)
        head = [la for la in layers if la.path in g and g.nodes[la.path]["section"] == "head"]
        body = [la for la in layers if la not in head]
        attrs = ["resdsl_spec = RESDSL_SPEC", "resdsl_fingerprint = RESDSL_FINGERPRINT"]
        attrs += backbone_attrs(r, head[-1].path if head else None)
        attrs += _fuse_attr(scope.fuse_pairs(), self.fuse_bn)
        doc = f"The '{doc_text(r.name)}' network (see the module docstring)."
        if len(r.outputs) > 1:
            doc += " It returns a list: " + ", ".join(r.output_names) + "."
        features = _scope(r, body, owner).forward_lines({"main": "x"})
        last = body[-1].path if body else INPUT
        head = [replace(la, inputs=[INPUT if u == last else u for u in la.inputs]) for la in head]
        if any(u not in {la.path for la in head} | {INPUT} for la in head for u in la.inputs):
            raise unsupported(BACKEND, r, head[0].path, "the head reads a value other than the last stage's")
        methods = [("forward_features", "x", features),
                   ("forward_head", "x, pre_logits: bool = False",
                    _scope(r, head, owner).forward_lines({"main": "x"}, early="pre_logits"))]
        if len(r.outputs) > 1:
            layers, top, owner = self._top_layers(self.taps.split)
            kept = tuple(dict.fromkeys(top[n] for n in r.outputs))
            forward = _scope(r, layers, owner, kept).forward_lines({"main": "x", "taps": "t"},
                                                                   outputs=[top[n] for n in r.outputs])
        else:
            forward = ["return self.forward_head(self.forward_features(x))"]
        init = self._argument_checks() + scope.init_lines()
        return _class(self.net_name, doc, f", {self._build_args()}", attrs, init, forward, base="Backbone",
                      methods=methods)

    def _argument_checks(self) -> list[str]:
        """`num_classes` and `in_channels` where the network cannot take others, refused as torchvision does."""
        a, lines = self.args, []
        if a.classifier is None:
            lines += ["if num_classes is not None:",
                      f'    raise ValueError("{self.net_name} has no classifier (no dense layer in its head) '
                      'to give num_classes")']
        elif "num_classes" in a.fixed:
            lines += [f"if num_classes != {a.num_classes}:",
                      f'    raise ValueError("{self.net_name} is built for num_classes={a.num_classes} only '
                      '(layers after its classifier fix their widths): change the spec")']
        else:
            lines.append("self.num_classes = num_classes")
        if "in_channels" in a.fixed:
            lines += [f"if in_channels != {a.in_channels}:",
                      f'    raise ValueError("{self.net_name} is built for in_channels={a.in_channels} only '
                      '(its stem has no conv to take other inputs): change the spec")']
        return lines

    def _stage_loop(self) -> list[str]:
        # A dotted stage name (timm's `stages.0.blocks`) sits in containers made on the way.
        add = ("add_stage(self, name, nn.Sequential(*blocks))" if any("." in st.name for st in self.r.stages)
               else "self.add_module(name, nn.Sequential(*blocks))")
        return ["for name, runs in STAGES:",
                "    blocks = [block(**args) for block, repeat, args in runs for _ in range(repeat)]",
                f"    {add}"]

    def build_model(self) -> str:
        if self.fuse_bn:
            return "\n".join([
                f"def build_model({self._build_args()}, fused=True):",
                f'    """A new {self.net_name}, initialised as the spec says. With `fused` (the default), each',
                "    BatchNorm that follows a conv is folded into it and the model is in eval mode: for",
                "    inference. To fold trained weights, build with fused=False, load them, then call",
                '    fold_batchnorm(model)."""',
                f"    model = {self.net_name}(num_classes=num_classes, in_channels=in_channels)",
                "    return fold_batchnorm(model) if fused else model"])
        return "\n".join([f"def build_model({self._build_args()}):",
                          f'    """A new {self.net_name}, initialised as the spec says."""',
                          f"    return {self.net_name}(num_classes=num_classes, in_channels=in_channels)"])

    def _build_args(self) -> str:
        return f"num_classes={self.args.num_classes!r}, in_channels={self.args.in_channels}"

    def header(self) -> str:
        r = self.r
        desc = "\n".join("\n".join(wrap(doc_text(p), 100)) for p in r.description.split("\n"))
        c, h, w = r.input_shape
        shape = lambda s: "x".join(str(v) for v in s)  # noqa: E731
        out = f"output {shape(r.output_shape)}"
        if len(r.outputs) > 1:  # as timm's features_only models: a list, in the spec's order
            out = "outputs, returned as a list: " + ", ".join(
                f"{doc_text(n)} {shape(s)}" for n, s in zip(r.output_names, r.output_shapes))
        lines = [f"# {MARKER} {__version__} from the spec {r.name!r}. Change the spec and compile it again",
                 "# (`resdsl compile SPEC --backend torch`) rather than editing this file.",
                 f'"""The \'{doc_text(r.name)}\' network for PyTorch.', ""]
        lines += ([desc, ""] if desc.strip() else [])
        lines += wrap(f"Input {c}x{h}x{w} (channels, height, width), {out}.", 100)
        lines += [f"{r.params:,} parameters and {r.buffers:,} buffers (BatchNorm running statistics);",
                  f"{r.macs:,} multiply-accumulates per image."]
        if self.fuse_bn:
            lines += ["Compiled with --fuse-bn: build_model() folds each BatchNorm that follows a conv into that",
                      "conv, for inference."]
        lines += ["", "Use: `model = build_model()`.", '"""']
        return "\n".join(lines)

    def source(self) -> str:
        body = []
        for d in self.r.defs.values():
            self.extra = []
            cls = self.block_class(d)
            body += self.extra + [cls]
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
