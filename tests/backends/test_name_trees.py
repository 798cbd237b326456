"""Dotted and indexed layer names (`pool.0`, `pool.1.a`) nest modules in the
PyTorch build: every layer is there, at its name, in both frameworks. A fixed
case (issue 24: `pool.1` vanished from the nn.Sequential) and random name trees."""
from __future__ import annotations

import random

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import resdsl

INDEXED = """\
resdsl: 1
name: indexed
input: {height: 16, width: 16, channels: 3}
stem:
  - conv: {filters: 8, kernel: 3, padding: 1, name: pool.0}
  - conv: {filters: 8, kernel: 3, padding: 1, name: pool.1.a}
  - conv: {filters: 8, kernel: 3, padding: 1, name: pool.1.b}
head: [global_avgpool]
"""


def _count(model) -> int:
    return sum(p.numel() for p in model.parameters())


def test_a_container_under_an_index_keeps_its_layers():
    torch = pytest.importorskip("torch")
    r = resdsl.resolve(INDEXED)
    model = resdsl.build(r).eval()
    assert _count(model) == r.params == 3 * 3 * 3 * 8 + 2 * 3 * 3 * 8 * 8  # 216 + 1152
    assert isinstance(model.pool, torch.nn.ModuleList) and len(model.pool) == 2  # called member by member
    assert model.get_submodule("pool.1.b").weight.shape == (8, 8, 3, 3)
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        want = model.avgpool1(model.pool[1].b(model.pool[1].a(model.pool[0](x))))
        assert torch.equal(model(x), want)


# -- random name trees ----------------------------------------------------------

IDENTS = ["a", "b", "conv", "norm", "head", "stem", "pool", "blocks", "fc", "se"]


def _tree(rnd: random.Random, depth: int) -> list[str]:
    """Leaf paths of a random tree, in order: a node's children are all indices
    0..n-1 (an nn.Sequential) or all names (a module), as the backends allow."""
    if depth == 0 or rnd.random() < 0.35:
        return [""]
    n = rnd.randint(1, 3)
    keys = [str(i) for i in range(n)] if rnd.random() < 0.5 else rnd.sample(IDENTS, n)
    return [f"{k}.{rest}" if rest else k for k in keys for rest in _tree(rnd, depth - 1)]


def _names(rnd: random.Random) -> list[str]:
    """Layer names whose first part is an identifier (a name at the top may not be an index)."""
    out = []
    for top in rnd.sample([i for i in IDENTS if i != "head"], rnd.randint(1, 3)):  # the head's own
        out += [f"{top}.{rest}" if rest else top for rest in _tree(rnd, 3)]
    return out


def _layers(rnd: random.Random, names: list[str], first: bool) -> list[dict]:
    """One layer per name: convs, norms and activations at 8 channels, now and then
    an add that joins the current tensor with an earlier one (not a chain)."""
    out = []
    for i, name in enumerate(names):
        kind = "conv" if (first and i == 0) else rnd.choice(["conv", "conv", "norm", "act", "add"])
        if kind == "add" and i >= 2:
            out.append({"add": {"with": names[rnd.randrange(i - 1)], "name": name}})
        elif kind in ("conv", "add"):
            out.append({"conv": {"filters": 8, "kernel": rnd.choice([1, 3]), "padding": "same", "name": name}})
        else:
            out.append({kind: {"name": name}})
    return out


def name_tree_spec(rnd: random.Random) -> str:
    """A stem and a user block, each with a random name tree (the network class's
    scope and a block class's), and a head named as timm names it."""
    block = {"main": _layers(rnd, _names(rnd), False), "shortcut": "identity"}
    spec = {"resdsl": 1, "name": "tree", "input": {"height": 8, "width": 8, "channels": 3},
            "blocks": {"tree": block}, "stem": _layers(rnd, _names(rnd), True),
            "stages": [{"block": "tree", "repeat": rnd.randint(1, 2), "name": "stages.0.blocks"}],
            "head": [{"global_avgpool": {"name": "head.global_pool"}}, {"dense": {"units": 3, "name": "head.fc"}}]}
    return yaml.safe_dump(spec, sort_keys=False)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None, max_examples=12)
@given(st.randoms(use_true_random=False))
def test_random_name_trees_build_every_layer_in_both_frameworks(rnd):
    torch = pytest.importorskip("torch")
    keras = pytest.importorskip("keras")
    import numpy as np
    text = name_tree_spec(rnd)
    r = resdsl.resolve(text)
    model = resdsl.build(r).eval()
    assert _count(model) == r.params
    for n, d in r.graph.nodes(data=True):  # every layer is a module at its name
        if d["op"] in ("conv", "norm"):
            assert model.get_submodule(n).weight.shape[0] == d["shape"][0]
    kmodel = resdsl.build(r, backend="keras")
    assert sum(int(np.prod(w.shape)) for w in kmodel.trainable_weights) == r.params
    resdsl.port_weights(model, kmodel)
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        want = model(x).numpy()
    got = keras.ops.convert_to_numpy(kmodel(x.permute(0, 2, 3, 1).numpy(), training=False))
    assert got.shape == want.shape == (2, 3)
    assert np.abs(got - want).max() <= 1e-4 * max(1.0, np.abs(want).max())


def test_the_generator_makes_containers_under_indices():
    """The random trees reach the case of the fixed test: a container under an index."""
    rnd = random.Random(0)
    texts = [name_tree_spec(rnd) for _ in range(30)]
    import re
    assert any(re.search(r"name: \w+\.\d+\.\w+", t) for t in texts)
