"""A derived user block (`extends`, `insert`, `replace`, `remove`; issue 24) is
only a way of writing a block: it builds the network that the same block written
out in full builds, in PyTorch and in Keras, module for module and weight for weight."""
from __future__ import annotations

import pytest

import resdsl
from tests.helpers.specs import DERIVED_BLOCKS

DERIVED = DERIVED_BLOCKS
# The derived blocks as they would be written without `extends`.
IN_FULL = DERIVED[:DERIVED.index("  with_se:\n")] + """\
  with_se:
    params: {k: 5}
    main:
      - norm: {name: pre}
      - conv: {filters: $filters, kernel: $k, stride: $stride, padding: 2, name: conv1}
      - norm: {name: bn1}
      - act: {fn: silu, name: act1}
      - conv: {filters: $filters, kernel: 3, padding: 1, name: conv2}
      - norm: {name: bn2}
      - se: {name: se}
    after: [{act: {name: act_out}}]
  plain:
    params: {k: 5}
    main:
      - norm: {name: pre}
      - conv: {filters: $filters, kernel: $k, stride: $stride, padding: 2, name: conv1}
      - norm: {name: bn1}
      - act: {fn: silu, name: act1}
      - conv: {filters: $filters, kernel: 3, padding: 1, name: conv2}
      - norm: {name: bn2}
    after: [{act: {name: act_out}}]
    shortcut: none
""" + DERIVED[DERIVED.index("stem:"):]


def test_the_derived_blocks_resolve_to_the_blocks_written_out():
    derived, full = resdsl.resolve(DERIVED), resdsl.resolve(IN_FULL)
    assert derived.params == full.params and derived.macs == full.macs
    assert list(derived.graph.nodes) == list(full.graph.nodes)
    for n, d in derived.graph.nodes(data=True):
        f = full.graph.nodes[n]
        assert (d["op"], d["shape"], d.get("attrs")) == (f["op"], f["shape"], f.get("attrs")), n
    assert set(derived.graph.edges) == set(full.graph.edges)


def test_torch_builds_the_same_network():
    torch = pytest.importorskip("torch")
    derived = resdsl.build(resdsl.resolve(DERIVED)).eval()
    full = resdsl.build(resdsl.resolve(IN_FULL)).eval()
    assert [(k, v.shape) for k, v in derived.state_dict().items()] == \
        [(k, v.shape) for k, v in full.state_dict().items()]
    assert "layer2.0.se.fc1.weight" in derived.state_dict() and "layer3.0.se.fc1.weight" not in derived.state_dict()
    full.load_state_dict(derived.state_dict(), strict=True)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(derived(x), full(x))
    assert resdsl.emit(resdsl.resolve(DERIVED)) == resdsl.emit(resdsl.resolve(IN_FULL))


def test_keras_builds_the_same_network():
    torch = pytest.importorskip("torch")
    keras = pytest.importorskip("keras")
    import numpy as np
    source = resdsl.build(resdsl.resolve(DERIVED)).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        want = source(x).numpy()
    kmodels = [resdsl.build(resdsl.resolve(text), backend="keras") for text in (DERIVED, IN_FULL)]
    assert [w.path for w in kmodels[0].weights] == [w.path for w in kmodels[1].weights]
    for kmodel in kmodels:
        resdsl.port_weights(source, kmodel)
        got = keras.ops.convert_to_numpy(kmodel(x.permute(0, 2, 3, 1).numpy(), training=False))
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert resdsl.emit(resdsl.resolve(DERIVED), backend="keras") == \
        resdsl.emit(resdsl.resolve(IN_FULL), backend="keras")
