"""For every shipped spec, the built module is the IR: each node's predicted
output shape is the shape its module produces in a forward pass (observed with
forward hooks on the module at the node's name), and the IR's parameter and
buffer counts are the module's."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

import resdsl
from resdsl.backends import get_backend


@pytest.mark.parametrize("name", resdsl.shipped_names())
def test_shapes_and_counts_match_the_ir(name, resolve_small):
    r = resolve_small(name, 32)  # 224x224 specs at 32x32; the others (CIFAR, SIGNS) at their own size
    model = get_backend("torch").build(r).eval()
    seen: dict[str, tuple] = {}
    nodes = [n for n in r.graph.nodes if r.graph.nodes[n]["op"] != "input"]
    for n in nodes:
        model.get_submodule(n).register_forward_hook(
            lambda mod, args, out, n=n: seen.__setitem__(n, tuple(out.shape)))
    # cifar_resnet1202's 1,200 tiny convs cost seconds of pure call overhead on the
    # CPU; on the meta device torch still computes every output shape, without data.
    device = "meta" if name == "cifar_resnet1202" else "cpu"
    with torch.no_grad():
        out = model.to(device)(torch.randn(2, *r.input_shape, device=device))
    wrong = [(n, (2, *r.graph.nodes[n]["shape"]), seen.get(n)) for n in nodes
             if seen.get(n) != (2, *r.graph.nodes[n]["shape"])]
    assert not wrong, f"predicted vs observed (first 5): {wrong[:5]}"
    assert tuple(out.shape) == (2, *r.output_shape)

    for n in nodes:  # BN settings in one convention: the IR's momentum is PyTorch's
        d = r.graph.nodes[n]
        if d["op"] == "norm" and d["attrs"]["type"] == "batchnorm":
            bn = model.get_submodule(n)
            assert (bn.eps, bn.momentum) == (d["attrs"]["eps"], d["attrs"]["momentum"]), n
        elif d["op"] == "norm":  # group and layer norm: no running statistics, no momentum
            assert model.get_submodule(n).eps == d["attrs"]["eps"], n
    if r.graph.nodes[r.output]["attrs"].get("activation") == "softmax" and device == "cpu":
        assert torch.allclose(out.sum(dim=1), torch.ones(2), atol=1e-5)

    params = sum(p.numel() for p in model.parameters() if p.requires_grad)  # (meta tensors have sizes too)
    # Buffers that are state (saved in the state_dict): a blur pool's fixed filter is a constant.
    saved = model.state_dict(keep_vars=True)
    stats = sum(b.numel() for k, b in model.named_buffers() if k in saved and not k.endswith("num_batches_tracked"))
    assert (params, stats) == (r.params, r.buffers)
