"""The torchvision-flavour specs compile to torchvision's networks: same parameter
count, torchvision's state_dict loads with strict=True (so its pretrained weights
would too), and the same outputs — for the in-memory model and for the module
`resdsl compile` writes. The reference is the installed torchvision, run here."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

import resdsl
from resdsl.backends import get_backend
from resdsl.cli import main

SPECS = ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d", "wide_resnet50_2"]
ATOL = 1e-5


def n_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name", SPECS)
def test_equal_to_torchvision(name, tmp_path, import_file, randomise_norms):
    torch.manual_seed(0)
    reference = getattr(torchvision.models, name)()
    randomise_norms(reference)  # so eps, running statistics and their order matter
    reference.eval()
    # A smaller, odd-sized input keeps the test fast and still runs every op and
    # every padding case (the networks end in global pooling); batch 2 catches mixing.
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        expected = reference(x)

    path = tmp_path / f"{name}_torch.py"
    assert main(["compile", name, "--backend", "torch", "-o", str(path)]) == 0
    module = import_file(path, f"emitted_{name}")
    with torch.device("meta"):  # no time spent initialising weights that are replaced anyway
        emitted = module.build_model()
    models = {"in memory": get_backend("torch").build(resdsl.resolve(name)), "emitted": emitted}
    for how, model in models.items():
        assert n_params(model) == n_params(reference), how
        model.load_state_dict(reference.state_dict(), strict=True, assign=how == "emitted")
        model.eval()
        with torch.no_grad():
            diff = (model(x) - expected).abs().max().item()
        assert diff <= ATOL, f"{name} ({how}): max |diff| {diff:.3g}"
