"""BatchNorm folding for inference (`build(..., fuse_bn=True)`, `compile
--fuse-bn`): each BN right after a conv disappears into that conv's weights and
bias, the others stay, and eval outputs do not change (to 1e-4)."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

import resdsl
from resdsl.backends import get_backend
from resdsl.backends.torch import load_source
from resdsl.cli import main

backend = get_backend("torch")
ATOL = 1e-4


def norms_after_convs(r) -> tuple[int, int]:
    """(BNs the IR puts right after a conv that feeds nothing else, all BNs)."""
    g = r.graph
    after = sum(1 for n, d in g.nodes(data=True) if d["op"] == "norm"
                and [g.nodes[u]["op"] for u in g.predecessors(n)] == ["conv"]
                and g.out_degree(next(iter(g.predecessors(n)))) == 1)
    return after, sum(1 for _, d in g.nodes(data=True) if d["op"] == "norm")


def batchnorms(model) -> int:
    return sum(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules())


# Post-activation blocks, grouped convs, pre-activation blocks (their first BN
# follows no conv), BN after ReLU (article 000), conv biases, Keras 'same' padding.
@pytest.mark.parametrize("name", ["resnet18", "resnext50_32x4d", "resnet50v2", "cifar10_resnet30",
                                  "signs_resnet50", "cifar_resnet20"])
def test_folding_keeps_outputs(name, resolve_small, randomise_norms):
    r = resolve_small(name, 32)
    module = load_source(backend.emit(r, fuse_bn=True), name)
    torch.manual_seed(0)
    model = module.build_model(fused=False)
    randomise_norms(model)
    model.eval()
    x = torch.randn(2, *r.input_shape)
    with torch.no_grad():
        expected = model(x)
        folded = module.fold_batchnorm(model)
        got = folded(x)
    assert (got - expected).abs().max().item() <= ATOL
    after, total = norms_after_convs(r)
    assert batchnorms(folded) == total - after
    if name in ("resnet50v2", "cifar10_resnet30"):
        assert batchnorms(folded) > 0  # pre-activation BNs and BNs after a ReLU stay


def test_build_fused_is_the_eval_model_folded():
    r = resdsl.resolve("cifar_resnet20")
    torch.manual_seed(0)
    plain = backend.build(r).eval()
    torch.manual_seed(0)
    fused = backend.build(r, fuse_bn=True)
    assert not fused.training and batchnorms(fused) == 0 and batchnorms(plain) == norms_after_convs(r)[1]
    assert fused.conv1.bias is not None and plain.conv1.bias is None
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert (fused(x) - plain(x)).abs().max().item() <= ATOL
    assert (fused.resdsl_spec, fused.resdsl_fingerprint) == (plain.resdsl_spec, plain.resdsl_fingerprint)


def test_compile_fuse_bn_writes_a_folding_module(tmp_path, import_file, randomise_norms):
    path = tmp_path / "r18.py"
    assert main(["compile", "resnet18", "--backend", "torch", "--fuse-bn", "-o", str(path)]) == 0
    module = import_file(path, "emitted_r18_fused")
    assert "--fuse-bn" in module.__doc__
    assert batchnorms(module.build_model()) == 0
    # Trained weights: build unfused, load, fold.
    torch.manual_seed(1)
    trained = resdsl.build("resnet18", backend="torch")
    randomise_norms(trained, seed=3)
    model = module.build_model(fused=False)
    model.load_state_dict(trained.state_dict(), strict=True)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert (module.fold_batchnorm(model)(x) - trained.eval()(x)).abs().max().item() <= ATOL


def test_folded_model_runs_channels_last(randomise_norms):
    """Folding leaves every conv weight channels-last (the layout oneDNN runs fastest
    on the CPU); NCHW and NHWC inputs give the same outputs, as the unfused model's."""
    r = resdsl.resolve("resnet18")
    module = load_source(backend.emit(r, fuse_bn=True), "resnet18")
    torch.manual_seed(0)
    model = module.build_model(fused=False)
    randomise_norms(model)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected = model.eval()(x)
        folded = module.fold_batchnorm(model)
        weights = [p for p in folded.parameters() if p.dim() == 4]
        assert weights and all(p.is_contiguous(memory_format=torch.channels_last) for p in weights)
        for inp in (x, x.contiguous(memory_format=torch.channels_last)):
            assert (folded(inp) - expected).abs().max().item() <= ATOL
    assert all(p.requires_grad for p in folded.parameters())
