"""The shipped `wrn28_10` against WRN-28-10 written here from its description
(Zagoruyko & Komodakis 2016, as the widely used xternalz/WideResNet-pytorch
builds it) — there is no installable reference:

- a 3x3 conv to 16 channels;
- three groups of n = (28 - 4) / 6 = 4 wide basic blocks of 160, 320, 640
  channels, stride 2 at the first block of groups 2 and 3: BN -> ReLU -> 3x3
  conv (stride) -> BN -> ReLU -> dropout(0.3) -> 3x3 conv, plus the shortcut;
  where the width or stride changes, the shortcut is a bare 1x1 conv of the
  *pre-activated* input (`convShortcut`), elsewhere the raw input;
- BN -> ReLU -> 8x8 average pool -> linear to 10 classes (36,479,194 params).

The spec has the same parameters and MACs, the same state_dict up to the
shortcut's name (strict load after renaming, keys in the same order), the same
eval outputs, and dropout where the reference has it: in training mode its
output is random and differs from eval mode.
"""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

import resdsl


class WideBasic(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, drop: float):
        super().__init__()
        self.bn1, self.relu1 = nn.BatchNorm2d(cin), nn.ReLU()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn2, self.relu2 = nn.BatchNorm2d(cout), nn.ReLU()
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.drop = drop
        self.convShortcut = None if cin == cout and stride == 1 else nn.Conv2d(cin, cout, 1, stride, bias=False)

    def forward(self, x):
        pre = self.relu1(self.bn1(x))
        y = F.dropout(self.relu2(self.bn2(self.conv1(pre))), self.drop, self.training)
        return self.conv2(y) + (x if self.convShortcut is None else self.convShortcut(pre))


class Group(nn.Module):
    def __init__(self, n: int, cin: int, cout: int, stride: int, drop: float):
        super().__init__()
        self.layer = nn.Sequential(*[WideBasic(cin if i == 0 else cout, cout, stride if i == 0 else 1, drop)
                                     for i in range(n)])

    def forward(self, x):
        return self.layer(x)


class WideResNet(nn.Module):
    def __init__(self, depth: int = 28, k: int = 10, classes: int = 10, drop: float = 0.3):
        super().__init__()
        n, widths = (depth - 4) // 6, (16, 16 * k, 32 * k, 64 * k)
        self.conv1 = nn.Conv2d(3, widths[0], 3, 1, 1, bias=False)
        self.block1 = Group(n, widths[0], widths[1], 1, drop)
        self.block2 = Group(n, widths[1], widths[2], 2, drop)
        self.block3 = Group(n, widths[2], widths[3], 2, drop)
        self.bn1, self.relu = nn.BatchNorm2d(widths[3]), nn.ReLU()
        self.fc = nn.Linear(widths[3], classes)

    def forward(self, x):
        y = self.block3(self.block2(self.block1(self.conv1(x))))
        return self.fc(F.avg_pool2d(self.relu(self.bn1(y)), 8).flatten(1))


def _renamed(state: dict) -> dict:
    return {key.replace(".convShortcut.", ".downsample.conv."): value for key, value in state.items()}


@pytest.fixture(scope="module")
def pair(randomise_norms):
    torch.manual_seed(0)
    reference = WideResNet().eval()
    randomise_norms(reference)
    r = resdsl.resolve("wrn28_10")
    return reference, r, resdsl.build(r, backend="torch").eval()


def test_counts_equal_the_reference(pair):
    from torch.utils.flop_counter import FlopCounterMode
    reference, r, _ = pair
    assert r.params == sum(p.numel() for p in reference.parameters()) == 36_479_194
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        reference(torch.zeros(1, 3, 32, 32))
    assert r.macs == counter.get_total_flops() // 2


def test_state_dict_is_the_references(pair):
    reference, _, ours = pair
    theirs = _renamed(reference.state_dict())
    assert list(theirs) == list(ours.state_dict())
    result = ours.load_state_dict(theirs, strict=True)
    assert not result.missing_keys and not result.unexpected_keys


def test_outputs_equal_the_reference_and_dropout_is_where_it_should_be(pair):
    reference, _, ours = pair
    ours.load_state_dict(_renamed(reference.state_dict()), strict=True)
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want, got = reference(x), ours(x)
        worst = float((got - want).abs().max())
        assert worst <= 1e-5 * float(want.abs().max()), f"outputs differ by {worst:.2e}"
        # 12 dropouts, each between the convs of a block, and nowhere else
        drops = [name for name, m in ours.named_modules() if isinstance(m, nn.Dropout)]
        assert len(drops) == 12 and all(n.endswith(".dropout") for n in drops)
        assert {m.p for m in ours.modules() if isinstance(m, nn.Dropout)} == {0.3}
        ours.train()
        torch.manual_seed(2)
        a = ours(x)
        torch.manual_seed(2)
        reference.train()
        b = reference(x)
    ours.eval(), reference.eval()
    assert not torch.allclose(a, got)  # dropout is active in training mode
    # the same random draws give the same outputs: the dropout sits where the reference's does
    # (batch statistics in training mode: both use them alike)
    assert float((a - b).abs().max()) <= 1e-4 * float(b.abs().max())
