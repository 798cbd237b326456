"""`resdsl summary`'s receptive fields and training memory, computed from the IR
alone, against what PyTorch does: the tensors autograd really keeps (counted
with saved-tensor hooks), torchinfo's own "Forward/backward pass size", and
receptive fields found by brute force from input gradients."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

import resdsl
from resdsl.analysis import rows
from resdsl.analysis.memory import saved_bytes, torchinfo_bytes
from resdsl.analysis.receptive import fields

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# ------------------------------------------------------------------ memory

def _kept_bytes(model, input_shape, batch: int) -> int:
    """Bytes of the distinct storages autograd keeps in one training forward,
    weights left out (a tensor kept by several ops, or a view, counts once)."""
    weights = {p.untyped_storage().data_ptr() for p in model.parameters()}
    kept: dict[int, int] = {}

    def pack(t):
        s = t.untyped_storage()
        if s.data_ptr() not in weights:
            kept[s.data_ptr()] = s.nbytes()
        return t
    x = torch.randn(batch, *input_shape)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(x)
    return sum(kept.values())


# One of each memory rule in use: max-pool indices, identity views (ResNet-D's
# stride-1 downsample.0), avg_down, SE and ECA gates (multiply keeps both inputs),
# subsample views and channel pads (option A), pre-activation, a dense softmax.
MEMORY_SPECS = ["resnet18", "resnet50", "resnet50d", "seresnet50", "ecaresnet50d", "cifar_resnet20",
                "preact_resnet18", "resnet50v2"]


@pytest.mark.parametrize("name", MEMORY_SPECS)
def test_saved_bytes_are_what_autograd_keeps(name, resolve_small):
    """Per image: a batch of two less a batch of one, which also cancels what does
    not grow with the batch (BatchNorm's per-channel batch statistics)."""
    r = resolve_small(name)
    model = resdsl.build(r, backend="torch").train()
    per_image = _kept_bytes(model, r.input_shape, 2) - _kept_bytes(model, r.input_shape, 1)
    assert sum(saved_bytes(r).values()) == per_image
    assert sum(x.saved for x in rows(r, "stage")) == per_image


@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_torchinfo_forward_backward_size(name):
    """torchinfo run on torchvision's network and on ours gives the IR's figure;
    the memory autograd keeps is about half of it (docs/reference.md says why)."""
    torchinfo = pytest.importorskip("torchinfo")
    r = resdsl.resolve(name)
    for model in (getattr(torchvision.models, name)(), resdsl.build(r, backend="torch")):
        stats = torchinfo.summary(model, input_size=(1, *r.input_shape), verbose=0)
        assert stats.total_output_bytes == torchinfo_bytes(r)
    saved = sum(saved_bytes(r).values())
    assert 0.4 < saved / torchinfo_bytes(r) < 0.6


# ---------------------------------------------------------- receptive field

# Every window rule of a ResNet: a 7×7/2 stem, a padded max pool, 3×3 convs at
# stride 1 and 2, a strided 1×1 projection, avg_down's 2×2 pool (ceil_mode), a
# non-square kernel and a subsampled identity in a user block.
RF_SPEC = """\
resdsl: 1
name: rf
input: {height: 224, width: 224, channels: 2}
blocks:
  tall:
    main:
      - conv: {filters: $filters, kernel: [5, 1], stride: $stride, padding: [2, 0]}
      - norm
      - act
    shortcut: identity
stem:
  - conv: {filters: 8, kernel: 7, stride: 2, padding: 3}
  - norm
  - act
  - maxpool: {size: 3, stride: 2, padding: 1}
stages:
  - {name: layer1, block: basic, filters: 8, repeat: 1}
  - {name: layer2, block: basic, filters: 16, repeat: 1, stride: 2}
  - {name: layer3, block: bottleneck, filters: 8, repeat: 1, stride: 2, shortcut: avg_down}
  - {name: layer4, block: tall, filters: 32, repeat: 1, stride: 2}
head: [global_avgpool, {dense: {units: 3}}]
"""


def _positive(model) -> torch.nn.Module:
    """Every path carries a positive weight, so no gradient cancels or dies at a
    ReLU or a saturated sigmoid; each max pool becomes an average pool over the same window (a max
    pool's gradient reaches one pixel per window, its field is the window)."""
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():  # scaled by 1 / fan-in: values stay near 1, a gate's sigmoid unsaturated
            fan_in = p[0].numel() if p.dim() > 1 else 1
            p.copy_((torch.rand(p.shape, generator=g, dtype=p.dtype) + 0.1) / fan_in)
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.running_mean.zero_()
                m.running_var.fill_(1.0)
    for name, m in list(model.named_modules()):
        if isinstance(m, torch.nn.MaxPool2d):
            parent = model.get_submodule(name.rpartition(".")[0]) if "." in name else model
            setattr(parent, name.rpartition(".")[2], torch.nn.AvgPool2d(
                m.kernel_size, m.stride, m.padding, ceil_mode=m.ceil_mode, count_include_pad=True))
    return model.double().eval()


def _seen(model, taps, x, block: str, i: int, j: int) -> torch.Tensor:
    """The input pixels on which output (i, j) of `block` (summed over channels) depends."""
    x = x.clone().requires_grad_(True)
    model(x)
    taps[block][0, :, i, j].sum().backward()
    return (x.grad[0].abs().sum(0) > 0)


def _extent(mask: torch.Tensor) -> tuple[tuple[int, int], tuple[int, int]]:
    rows_, cols = mask.any(1).nonzero().flatten(), mask.any(0).nonzero().flatten()
    return (int(rows_[0]), int(rows_[-1])), (int(cols[0]), int(cols[-1]))


def _stage_ends(r) -> list[tuple[str, str]]:
    """(last block, its output node) of each stage."""
    outputs = {b.name: b.output for b in r.blocks}
    return [(s.blocks[-1], outputs[s.blocks[-1]]) for s in r.stages]


def _tapped(spec: str):
    r = resdsl.resolve(spec)
    model = _positive(resdsl.build(r, backend="torch"))
    taps: dict[str, torch.Tensor] = {}
    mods = dict(model.named_modules())
    for block, _ in _stage_ends(r):
        mods[block].register_forward_hook(lambda m, i, o, n=block: taps.__setitem__(n, o))
    x = torch.rand(1, *r.input_shape, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) + 0.1
    return r, model, taps, x


def test_receptive_field_and_jump_match_input_gradients():
    """At each stage's output, a value away from the border depends on exactly
    `size` input rows and columns, and its neighbour's field starts `jump` later."""
    r, model, taps, x = _tapped(RF_SPEC)
    rf = fields(r)
    ends = _stage_ends(r)
    assert rf[ends[-1][1]].size[0] != rf[ends[-1][1]].size[1]  # the [5, 1] kernel counts
    for block, node in ends:
        f, (_, h, w) = rf[node], r.node(node)["shape"]
        i, j = h // 2, w // 2
        (top, bottom), (left, right) = _extent(_seen(model, taps, x, block, i, j))
        assert 0 < top and bottom < x.shape[2] - 1 and 0 < left and right < x.shape[3] - 1, f"{node}: clipped"
        assert (bottom - top + 1, right - left + 1) == f.size, node
        (top2, _), (left2, _) = _extent(_seen(model, taps, x, block, i + 1, j + 1))
        assert (top2 - top, left2 - left) == f.jump, node
        assert not f.whole


def test_a_gate_sees_the_whole_input():
    """Squeeze-and-excitation pools the whole map into its gate: from the first SE
    block on, every value depends on every input pixel, as the summary marks."""
    spec = RF_SPEC.replace("shortcut: avg_down}", "shortcut: avg_down, attention: {se: {reduction: 4}}}")
    r, model, taps, x = _tapped(spec)
    rf = fields(r)
    for (block, node), s in zip(_stage_ends(r), r.stages):
        _, h, w = r.node(node)["shape"]
        everything = bool(_seen(model, taps, x, block, h // 2, w // 2).all())
        assert everything == rf[node].whole == (s.name in ("layer3", "layer4")), node
