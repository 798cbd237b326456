"""Property-based tests. Random valid specs (depths, widths, strides, block kinds,
shortcuts, input sizes) resolve, and what resdsl predicts (output shape, trainable
parameters, BatchNorm buffers) is what both backends build. Random damage to
valid specs (removed and unknown keys, wrong types, extreme numbers, random
characters, truncation) ends in a located SpecError and nothing else."""
from __future__ import annotations

import random

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import resdsl
from resdsl.spec.load import loads
from resdsl.spec.shipped import shipped_path
from tests.hostile.hostile_gen import dump, mutated_spec, valid_spec

SLOW = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)


@settings(SLOW, max_examples=100)
@given(st.randoms(use_true_random=False))
def test_generated_specs_resolve(rnd):
    spec = valid_spec(rnd)
    r = resdsl.resolve(dump(spec))
    assert len(r.stages) == len(spec["stages"])
    assert r.output_shape == (spec["head"][-1]["dense"]["units"],)
    assert r.params > 0 and r.macs > 0


@settings(SLOW, max_examples=25)
@given(st.randoms(use_true_random=False))
def test_torch_builds_what_resdsl_predicts(torch, rnd):
    text = dump(valid_spec(rnd))
    r = resdsl.resolve(text)
    model = resdsl.build(text, backend="torch")
    assert sum(p.numel() for p in model.parameters()) == r.params
    stats = sum(b.numel() for n, b in model.named_buffers() if n.endswith(("running_mean", "running_var")))
    assert stats == r.buffers
    c, h, w = r.input_shape
    model.eval()
    assert tuple(model(torch.zeros(2, c, h, w)).shape) == (2, *r.output_shape)
    # every op's predicted shape, via the naming contract: node n is model.get_submodule(n)
    for n, d in r.graph.nodes(data=True):
        if d["op"] == "conv":
            kh, kw = d["attrs"]["kernel"]
            weight = model.get_submodule(n).weight
            assert tuple(weight.shape) == (d["attrs"]["filters"], d["in_shapes"][0][0] // d["attrs"]["groups"], kh, kw)


@settings(SLOW, max_examples=6)
@given(st.randoms(use_true_random=False))
def test_keras_builds_what_resdsl_predicts(rnd):
    pytest.importorskip("keras")
    import numpy as np
    text = dump(valid_spec(rnd))
    r = resdsl.resolve(text)
    model = resdsl.build(text, backend="keras")
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable == r.params
    assert model.count_params() == r.params + r.buffers
    c, h, w = r.input_shape
    assert tuple(model.output_shape) == (None, *r.output_shape)
    assert model.predict(np.zeros((1, h, w, c), "float32"), verbose=0).shape == (1, *r.output_shape)


SEEDS = [shipped_path(n).read_text() for n in ("cifar_resnet20", "cifar10_resnet30", "resnet18", "resnet50v2",
                                               "resnext50_32x4d")]


def resolve_or_located_error(text: str) -> str:
    try:
        resdsl.resolve(loads(text, "<mutant>"))
        return "ok"
    except resdsl.SpecError as exc:
        assert exc.diagnostics
        lines = text.splitlines() or [""]
        for d in exc.diagnostics:
            s = d.span
            assert d.code and d.message
            assert 1 <= s.line <= max(len(lines), 1) + 1, d
            assert s.column >= 1 and (s.end_line, s.end_column) >= (s.line, s.column), d
        assert str(exc) and exc.to_json()
        return exc.code


@settings(SLOW, max_examples=1000)
@given(st.randoms(use_true_random=False))
def test_mutated_specs_give_only_located_spec_errors(rnd):
    resolve_or_located_error(mutated_spec(rnd, SEEDS))


@settings(SLOW, max_examples=200)
@given(st.text(max_size=300))
def test_arbitrary_text_gives_only_located_spec_errors(text):
    resolve_or_located_error(text)


@settings(SLOW, max_examples=200)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_in_a_file(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("b") / "spec.yaml"
    path.write_bytes(data)
    try:
        resdsl.resolve(str(path))
    except resdsl.SpecError as exc:
        assert exc.first.span.file == str(path) and exc.first.span.line >= 1


def test_mutations_reach_many_distinct_errors():
    """The mutation generator is worth its examples: it provokes most error kinds."""
    rnd = random.Random(1)
    codes = {resolve_or_located_error(mutated_spec(rnd, SEEDS)) for _ in range(400)}
    assert len(codes) >= 12, codes
    assert "ok" in codes
    assert yaml.safe_load(dump(valid_spec(rnd)))["resdsl"] == 1
