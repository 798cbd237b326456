"""Issue 21, class 8: every name a user chooses (spec, block, parameter, stage,
block layer, stem and head layer) becomes a Python identifier that shadows no
argument, module, builtin or helper of the emitted file, in both backends: a
module whose every name is one of NAMES imports and builds the IR's parameter
count, and a long stem name does not change the module's statements."""
from __future__ import annotations

import ast
import sys

import pytest

import resdsl

NAMES = ["x", "self", "os", "sys", "torch", "nn", "F", "keras", "layers", "ops", "np", "build_model", "conv", "norm",
         "len", "print", "__import__", "name", "s", "inputs", "stage", "wiring", "Block", "STAGES",
         "if", "None", "lambda", "n" * 64]


def block_spec(n: str, stage: str | None = None, layer: str | None = None) -> str:
    """`n` as the spec, a user block, its parameter, the block's layer and the
    stage (unless `stage` / `layer` name those)."""
    m = n[:61]  # within the 64 characters a name may have, with a suffix
    stage, layer = stage or n, layer or n
    return f"""\
resdsl: 1
name: {n}
input: {{height: 16, width: 16, channels: 3}}
blocks:
  {n}:
    params: {{{n}: 1}}
    main:
      - conv: {{filters: $filters, kernel: ${n}, padding: 1, name: {layer}}}
      - norm: {{name: {m}_n}}
    shortcut: identity
stem: [{{conv: {{filters: 4, kernel: 3, padding: 1}}}}, norm]
stages: [{{name: {stage}, block: {n}, filters: 4, repeat: 2, args: {{{n}: 3}}}}]
head: [global_avgpool, {{dense: {{units: 2}}}}]
"""


def layer_spec(n: str, stem_from: bool = False) -> str:
    """`n` as the spec, a stem layer (read by a branch where `stem_from`) and in head layers' names."""
    m = n[:61]
    branch = f", {{act: {{from: {n}, name: {m}_a}}}}, {{add: {{with: {m}_n}}}}" if stem_from else ""
    return f"""\
resdsl: 1
name: {n}
input: {{height: 16, width: 16, channels: 3}}
stem: [{{conv: {{filters: 4, kernel: 3, padding: 1, name: {n}}}}}, {{norm: {{name: {m}_n}}}}{branch}]
stages: [{{block: basic, filters: 4, repeat: 2}}]
head: [{{global_avgpool: {{name: g_{m}}}}}, {{dense: {{units: 2, name: {m}_fc}}}}]
"""


def _run(src: str, tag: str):
    """The emitted module, executed as a module of its own, and its build_model()."""
    import types
    module = types.ModuleType(f"names_{tag}")
    sys.modules[module.__name__] = module
    try:
        exec(compile(src, f"<{tag}>", "exec"), module.__dict__)  # noqa: S102 - our emitted code
        return module.build_model()
    finally:
        del sys.modules[module.__name__]


def _torch_count(model) -> int:
    return sum(p.numel() for p in model.parameters()) + \
        sum(b.numel() for n, b in model.named_buffers() if not n.endswith("num_batches_tracked"))


@pytest.mark.parametrize("backend", ["torch", "keras"])
@pytest.mark.parametrize("name", NAMES, ids=lambda n: n if len(n) < 20 else "64_chars")
def test_every_name_builds_the_ir_parameter_count(name, backend):
    pytest.importorskip(backend)
    for i, text in enumerate((block_spec(name), layer_spec(name), layer_spec(name, stem_from=True))):
        r = resdsl.resolve(text)
        model = _run(resdsl.emit(r, backend=backend), f"{backend}_{i}")
        count = model.count_params() if backend == "keras" else _torch_count(model)
        assert count == r.params + r.buffers, (text, count)


@pytest.mark.parametrize("backend", ["torch", "keras"])
def test_input_builds_as_a_spec_block_parameter_and_block_layer_name(backend):
    """`input` names the network's input node, so only a stage or a stem or head layer may not have it (next test)."""
    pytest.importorskip(backend)
    r = resdsl.resolve(block_spec("input", stage="s"))
    model = _run(resdsl.emit(r, backend=backend), f"{backend}_input")
    assert (model.count_params() if backend == "keras" else _torch_count(model)) == r.params + r.buffers


@pytest.mark.parametrize("text,line", [(block_spec("p", stage="input"), 8), (layer_spec("input"), 4)])
def test_a_stage_or_stem_layer_named_input_is_a_located_error(text, line):
    with pytest.raises(resdsl.SpecError) as exc:
        resdsl.resolve(text)
    assert exc.value.code == "reserved-name" and f":{line}:" in str(exc.value), str(exc.value)


def test_a_parameter_named_x_is_not_the_block_input():
    src = resdsl.emit(block_spec("x"), backend="keras")
    sig = next(n for n in ast.walk(ast.parse(src)) if isinstance(n, ast.FunctionDef) and n.name == "x_block").args
    names = [a.arg for a in sig.args]
    assert names[:2] == ["x", "name"] and names.count("x") == 1 and "x_" in names
    assert "kernel: $x" in block_spec("x") and "conv(x, filters, x_, 1, 1, " in src  # x_ is the parameter


class _Shape(ast.NodeTransformer):
    """Identifiers and constants erased: the statements that remain."""

    def visit_Name(self, n):
        return ast.Name("_", n.ctx)

    def visit_Constant(self, n):
        return ast.Constant(None)

    def visit_Attribute(self, n):
        self.generic_visit(n)
        n.attr = "_"
        return n

    def _named(self, n):
        self.generic_visit(n)
        n.name = "_"
        return n
    visit_FunctionDef = visit_ClassDef = _named


@pytest.mark.parametrize("backend", ["torch", "keras"])
def test_a_long_stem_name_keeps_the_statements(backend):
    def shape(n):
        return ast.dump(_Shape().visit(ast.parse(resdsl.emit(layer_spec(n), backend=backend))))
    assert shape("n" * 64) == shape("stem") == shape("x")
