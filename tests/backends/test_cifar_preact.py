"""The shipped `preact_resnet18` against a pre-activation ResNet-18 for CIFAR-10
written here from its description, as the widely used pytorch-cifar
PreActResNet18 (kuangliu) builds it — there is no installable reference:

- a 3x3 stride-1 conv to 64 channels, nothing else in the stem (no norm, no
  max-pool: the first block's pre-activation normalises it);
- pre-activation basic blocks [2, 2, 2, 2] of 64..512 channels, stride 2 at the
  first block of stages 2-4: BN -> ReLU -> 3x3 conv (stride) -> BN -> ReLU ->
  3x3 conv, plus the shortcut. Where the shape changes, the shortcut is a bare
  1x1 conv (no BN) on the *pre-activated* input; elsewhere the raw input;
- after the last sum straight to a 4x4 average pool and a linear layer to 10
  classes: no final BN + ReLU (11,171,146 parameters, the issue's figure).

The spec must have the same parameters and MACs, the same state_dict up to
resdsl's torchvision-style local names (strict load after renaming, keys in the
same order), and the same outputs once the weights are copied.
"""
from __future__ import annotations

import re

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

import resdsl


class PreActBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False))

    def forward(self, x):
        pre = F.relu(self.bn1(x))
        skip = self.shortcut(pre) if hasattr(self, "shortcut") else x
        y = self.conv2(F.relu(self.bn2(self.conv1(pre))))
        return y + skip


class PreActResNet18(nn.Module):
    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        cin = 64
        for i, (cout, stride) in enumerate(((64, 1), (128, 2), (256, 2), (512, 2))):
            setattr(self, f"layer{i + 1}", nn.Sequential(PreActBlock(cin, cout, stride), PreActBlock(cout, cout, 1)))
            cin = cout
        self.linear = nn.Linear(512, num_classes)

    def forward(self, x):
        y = self.layer4(self.layer3(self.layer2(self.layer1(self.conv1(x)))))
        return self.linear(F.avg_pool2d(y, 4).flatten(1))


# The reference's local names -> resdsl's (preact_basic: preact_bn, conv1, bn1, conv2, downsample.0).
RENAME = [(r"\.bn1\.", ".preact_bn."), (r"\.bn2\.", ".bn1."), (r"\.shortcut\.0\.", ".downsample.0.")]


def _renamed(state: dict) -> dict:
    out = {}
    for key, value in state.items():
        for pattern, repl in RENAME:
            key = re.sub(pattern, repl, key)
        out[key] = value
    return out


@pytest.fixture(scope="module")
def pair(randomise_norms):
    torch.manual_seed(0)
    reference = PreActResNet18().eval()
    randomise_norms(reference)  # fresh BN is the identity; make every norm matter
    r = resdsl.resolve("preact_resnet18")
    return reference, r, resdsl.build(r, backend="torch").eval()


def test_counts_equal_the_reference(pair):
    from torch.utils.flop_counter import FlopCounterMode
    reference, r, _ = pair
    params = sum(p.numel() for p in reference.parameters())
    assert r.params == params == 11_171_146
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        reference(torch.zeros(1, 3, 32, 32))
    assert r.macs == counter.get_total_flops() // 2
    assert r.input_shape == (3, 32, 32) and r.output_shape == (10,)


def test_state_dict_is_the_references_renamed(pair):
    reference, _, ours = pair
    theirs = _renamed(reference.state_dict())
    assert list(theirs) == list(ours.state_dict())  # same tensors, same order
    result = ours.load_state_dict(theirs, strict=True)
    assert not result.missing_keys and not result.unexpected_keys


def test_outputs_equal_the_reference(pair):
    reference, _, ours = pair
    ours.load_state_dict(_renamed(reference.state_dict()), strict=True)
    x = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want, got = reference(x), ours(x)
    worst = float((got - want).abs().max())
    assert worst <= 1e-5 * float(want.abs().max()), f"outputs differ by {worst:.2e}"
