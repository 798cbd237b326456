"""A third backend is one module satisfying `resdsl.backends.Backend` and an
entry in the backend and framework tables: this test writes one (a backend
that "builds" a plain list of layer records and emits a module defining the
same list, one function per block definition), registers it, and uses it
through resdsl.build and resdsl.emit like torch and keras."""
from __future__ import annotations

import sys
import textwrap

import pytest

import resdsl
from resdsl.backends import BACKENDS, Backend, frameworks, get_backend

TOY = '''\
"""A toy backend: the network as records, and as source defining them."""
from resdsl.backends.common import node_inputs, unsupported


def _records(resolved):
    records = []
    for name in resolved.graph:
        d = resolved.graph.nodes[name]
        if d["op"] == "dropout":
            raise unsupported("toy", resolved, name, "no randomness here")
        records.append((name, d["op"], tuple(d["shape"]), d["params"], tuple(node_inputs(resolved, name))))
    return records


def build(resolved, **options):
    if options:
        raise TypeError(f"toy build takes no options: {sorted(options)}")
    return _records(resolved)


def emit(resolved, **options):
    # One function per block definition, as the real emitters write one class each.
    lines = [f"def {d.name.lower()}():\\n    return {[n.local for n in d.nodes]!r}\\n" for d in resolved.defs.values()]
    lines.append(f"LAYERS = {_records(resolved)!r}\\n")
    return "\\n".join(lines)
'''


@pytest.fixture
def toy(tmp_path, monkeypatch):
    (tmp_path / "toy_backend.py").write_text(TOY)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(BACKENDS, "toy", "toy_backend")
    monkeypatch.setitem(frameworks.FRAMEWORKS, "toy", ("json", "toy"))  # its "framework" is always there
    yield get_backend("toy")
    sys.modules.pop("toy_backend", None)


def test_the_shipped_backends_satisfy_the_protocol():
    for name in ("torch", "keras"):
        assert isinstance(get_backend(name), Backend), name


def test_a_third_backend_builds_and_emits_through_the_api(toy):
    assert isinstance(toy, Backend)
    r = resdsl.resolve("cifar_resnet20")
    records = resdsl.build("cifar_resnet20", backend="toy")
    assert [rec[0] for rec in records] == list(r.graph)
    assert sum(rec[3] for rec in records) == r.params > 0
    namespace: dict = {}
    exec(compile(resdsl.emit("cifar_resnet20", backend="toy"), "<toy>", "exec"), namespace)
    assert namespace["LAYERS"] == records
    # The block definitions reach a third backend as they reach torch and keras: one here.
    functions = [k for k, v in namespace.items() if callable(v) and not k.startswith("__")]
    assert functions == [d.name.lower() for d in r.defs.values()] and len(functions) == 1


def test_a_third_backend_reports_what_it_cannot_express(toy):
    with pytest.raises(resdsl.SpecError) as err:
        resdsl.build("wrn28_10", backend="toy")
    assert "the toy backend cannot express op 'dropout'" in str(err.value)
    assert "no randomness here" in str(err.value)


def test_a_module_without_emit_is_not_a_backend(tmp_path, monkeypatch):
    (tmp_path / "half_backend.py").write_text(textwrap.dedent("""\
        def build(resolved, **options):
            return None
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    import half_backend

    try:
        assert not isinstance(half_backend, Backend)
    finally:
        sys.modules.pop("half_backend", None)


def test_an_unknown_backend_is_named_with_a_hint():
    with pytest.raises(ValueError, match="unknown backend 'torhc'.*torch"):
        get_backend("torhc")
