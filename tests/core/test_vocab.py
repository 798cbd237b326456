"""One source per vocabulary: a name added to resdsl/vocab.py reaches the spec
language (and so its JSON Schema), every op of the IR carries the knowledge the
tools need (OpDef: label, default name prefix, merge flag), and the backends'
per-framework tables cover exactly vocab's names."""
import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from resdsl import vocab
from resdsl.ir import OPS
from resdsl.ir.attrs import ConvAttrs
from resdsl.render.labels import op_details, op_title
from resdsl.spec.schema import json_schema_text

BACKENDS = Path(__file__).parents[2] / "resdsl" / "backends"

# Extends vocab before anything reads it, then prints the schema.
EXTENDED = """
import resdsl.vocab as v
v.ACTIVATIONS += ("mish_for_test",)
v.DENSE_ACTIVATIONS += ("mish_for_test",)
v.INITS += ("lecun_for_test",)
v.NORMS += ("layernorm_for_test",)
v.GATES += ("tanh_gate_for_test",)
from resdsl.spec.schema import json_schema_text
print(json_schema_text())
"""


def test_a_name_added_to_vocab_shows_in_the_schema():
    plain = json_schema_text()
    done = subprocess.run([sys.executable, "-c", EXTENDED], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    extended = json.loads(done.stdout)
    for name in ("mish_for_test", "lecun_for_test", "layernorm_for_test", "tanh_gate_for_test"):
        assert name not in plain
        assert f'"{name}"' in done.stdout, name
    # Every list of choices that offers an existing name of a vocabulary offers the new one too.
    for old, new in (("relu6", "mish_for_test"), ("glorot_normal", "lecun_for_test"),
                     ("groupnorm", "layernorm_for_test")):
        lists = [c for c in _lists(extended) if old in c]
        assert lists and all(new in c for c in lists), (old, new)
    assert [*vocab.GATES, "tanh_gate_for_test"] in list(_lists(extended))  # se and eca's `gate`


def _lists(node):
    if isinstance(node, dict):
        for v in node.values():
            yield from _lists(v)
    elif isinstance(node, list):
        yield node
        for v in node:
            yield from _lists(v)


@pytest.mark.parametrize("op", list(OPS))
def test_every_op_has_a_label_and_a_prefix(op):
    d = OPS[op]
    assert isinstance(d.prefix, str) and d.prefix.isidentifier(), op
    assert isinstance(d.merge, bool)
    # the joins (add, multiply, concat) take a list; attention_pool reads two named tensors
    assert d.merge == (d.arity > 1 or d.arity == -1) or op == "attention_pool", op
    assert callable(d.label) or (isinstance(d.label, str) and d.label), op


def test_labels_come_from_the_op_table():
    a = ConvAttrs(filters=64, kernel=(3, 3), stride=(2, 2), padding=(0, 1, 0, 1), groups=32, bias=False,
                  init="glorot_uniform", padding_mode="explicit")
    assert op_title("conv", a) == "conv 3×3, 64" == OPS["conv"].title(a)
    assert op_details("conv", a) == ["groups 32", "pad 0,1,0,1 (t,b,l,r)"]
    assert op_title("add", {}) == "⊕ add" and op_title("flatten", {}) == "flatten"


def test_unnamed_layers_are_named_by_their_op_prefix(tiny_text):
    import resdsl
    r = resdsl.resolve(tiny_text)  # a stem and a head of unnamed layers
    top = {n: d["op"] for n, d in r.graph.nodes(data=True) if "." not in n and d["op"] != "input"}
    assert top == {"conv1": "conv", "bn1": "norm", "act1": "act", "avgpool1": "global_avgpool", "fc1": "dense"}
    assert all(n == OPS[op].prefix + "1" for n, op in top.items())


def _dict_keys(path: Path, name: str) -> list:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    table = next(n.value for n in tree.body if isinstance(n, ast.Assign) and isinstance(n.targets[0], ast.Name)
                 and n.targets[0].id == name)
    return [ast.literal_eval(k) for k in table.keys]


def _compared_names(path: Path, func: str, var: str) -> set:
    """The string constants `var` is compared with in function `func`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == func)
    return {c.comparators[0].value for c in ast.walk(fn) if isinstance(c, ast.Compare)
            and isinstance(c.left, ast.Name) and c.left.id == var and isinstance(c.comparators[0], ast.Constant)}


def test_backend_tables_cover_exactly_vocabs_names():
    # Read as text: neither needs torch or keras to be installed.
    from resdsl.backends.torch.ops import act_classes
    assert list(act_classes()) == _dict_keys(BACKENDS / "torch" / "runtime.py", "ACTIVATIONS")
    assert set(act_classes()) == set(vocab.ACTIVATIONS)
    assert set(_dict_keys(BACKENDS / "keras" / "rules.py", "KERNEL_INIT")) == set(vocab.INITS)
    assert _compared_names(BACKENDS / "torch" / "runtime.py", "init_weight", "init") == set(vocab.INITS)
