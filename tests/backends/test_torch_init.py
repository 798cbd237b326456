"""Initialisation follows the spec: each `init` gives the distribution its name
promises (checked by statistics over large layers), biases start at zero unless
PyTorch's default is kept, and zero-init of each block's last norm matches
torchvision's zero_init_residual."""
from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

import resdsl
from resdsl.spec.shipped import shipped_path

INITS = """\
resdsl: 1
name: inits
input: {height: 8, width: 8, channels: 128}
stem:
  - conv: {filters: 256, kernel: 3, padding: 1, name: fan_out}
  - conv: {filters: 128, kernel: 3, padding: 1, init: kaiming_normal_fan_in, name: fan_in}
  - conv: {filters: 256, kernel: 3, padding: 1, init: glorot_uniform, bias: true, name: glorot_u}
  - conv: {filters: 128, kernel: 3, padding: 1, init: glorot_normal, bias: true, name: glorot_n}
  - conv: {filters: 128, kernel: 3, padding: 1, init: torch_default, bias: true, name: default}
head:
  - global_avgpool
  - dense: {units: 1024, init: glorot_uniform, name: fc_glorot}
  - dense: {units: 512, name: fc_default}
"""


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return resdsl.build(INITS, backend="torch")


def fans(w) -> tuple[int, int]:
    receptive = w[0][0].numel()
    return w.shape[1] * receptive, w.shape[0] * receptive


def close(a: float, b: float, rel: float = 0.03) -> bool:
    return abs(a - b) <= rel * abs(b)


def test_kaiming_normal(model):
    w = model.fan_out.weight  # the spec's default conv init, as torchvision's ResNet
    assert close(w.std().item(), math.sqrt(2 / fans(w)[1]))
    assert abs(w.mean().item()) < 0.01 * w.std().item()
    w = model.fan_in.weight
    assert close(w.std().item(), math.sqrt(2 / fans(w)[0]))


def test_glorot_uniform_with_zero_bias(model):
    for layer in (model.glorot_u, model.fc_glorot):
        w = layer.weight
        fan_in, fan_out = fans(w) if w.dim() == 4 else (w.shape[1], w.shape[0])
        bound = math.sqrt(6 / (fan_in + fan_out))
        assert w.abs().max().item() <= bound and w.abs().max().item() > 0.99 * bound
        assert close(w.std().item(), bound / math.sqrt(3))
        assert torch.count_nonzero(layer.bias) == 0


def test_glorot_normal_is_keras_truncated_normal(model):
    w, b = model.glorot_n.weight, model.glorot_n.bias
    fan_in, fan_out = fans(w)
    std = math.sqrt(2 / (fan_in + fan_out))
    assert close(w.std().item(), std)  # the kept values have Glorot's std ...
    assert w.abs().max().item() <= 2 * std / 0.87962566103423978  # ... cut at two widened std
    assert torch.count_nonzero(b) == 0


def test_torch_default_keeps_pytorchs_own(model):
    for layer in (model.default, model.fc_default):
        w = layer.weight
        bound = 1 / math.sqrt(w[0].numel())  # kaiming_uniform(a=sqrt(5)) and the bias both use 1/sqrt(fan_in)
        assert bound * 0.98 < w.abs().max().item() <= bound
        assert 0 < layer.bias.abs().max().item() <= bound


def test_torchvision_defaults():
    torch.manual_seed(0)
    m = resdsl.build("resnet18", backend="torch")
    for name, mod in m.named_modules():
        if isinstance(mod, torch.nn.Conv2d) and mod.weight.numel() >= 4096:
            assert close(mod.weight.std().item(), math.sqrt(2 / fans(mod.weight)[1]), 0.06), name
        if isinstance(mod, torch.nn.BatchNorm2d):
            assert torch.all(mod.weight == 1) and torch.all(mod.bias == 0), name
    assert 0 < m.fc.bias.abs().max().item() <= 1 / math.sqrt(512)


def zero_gammas(model) -> set[str]:
    return {n for n, p in model.named_parameters() if n.endswith(".weight") and p.dim() == 1 and not p.any()}


@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_zero_init_last_is_torchvisions_zero_init_residual(name):
    text = shipped_path(name).read_text(encoding="utf-8")
    old = "norm: {eps: 1.0e-5, momentum: 0.1}"
    text = text.replace(old, old[:-1] + ", zero_init_last: true}")
    ours = zero_gammas(resdsl.build(text, backend="torch"))
    theirs = zero_gammas(getattr(torchvision.models, name)(zero_init_residual=True))
    assert ours == theirs and len(theirs) == len(resdsl.resolve(text).blocks)


def test_zero_init_last_per_stage():
    text = shipped_path("cifar_resnet20").read_text(encoding="utf-8")
    old = "filters: 32, repeat: 3, stride: 2,"
    text = text.replace(old, old + " zero_init_last_norm: true,")
    assert "zero_init_last_norm" in text
    assert zero_gammas(resdsl.build(text, backend="torch")) == {f"layer2.{i}.bn2.weight" for i in range(3)}


def test_replaced_default_inits_are_not_computed(monkeypatch):
    """Layers whose `init` replaces PyTorch's default are made without drawing that
    default first (a third of the build time): only layers that keep it draw it."""
    drawn = []
    real = torch.nn.init.kaiming_uniform_

    def counting(tensor, *args, **kwargs):
        if tensor.device.type != "meta":
            drawn.append(tuple(tensor.shape))
        return real(tensor, *args, **kwargs)
    monkeypatch.setattr(torch.nn.init, "kaiming_uniform_", counting)
    model = resdsl.build(INITS, backend="torch")
    assert sorted(drawn) == sorted([tuple(model.default.weight.shape), tuple(model.fc_default.weight.shape)])


def test_default_device_dtype_and_seed():
    """The layers land on the default device (meta here, as CUDA would under
    `with torch.device("cuda")`) in the default dtype, and a seed fixes the weights."""
    with torch.device("meta"):
        model = resdsl.build("resnet18", backend="torch")
    assert {t.device.type for t in [*model.parameters(), *model.buffers()]} == {"meta"}
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        models = []
        for _ in range(2):
            torch.manual_seed(0)
            models.append(resdsl.build("resnet18", backend="torch"))
    finally:
        torch.set_default_dtype(old)
    assert {p.dtype for p in models[0].parameters()} == {torch.float64}
    w = models[0].layer4[0].conv2.weight
    assert close(w.std().item(), math.sqrt(2 / fans(w)[1]))
    first, second = (m.state_dict() for m in models)
    assert all(torch.equal(first[k], second[k]) for k in first)
