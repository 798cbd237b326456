"""Shipped timm-flavour specs against installed timm (pretrained=False): the
spec's PyTorch build loads timm's state_dict with strict=True and gives timm's
outputs in eval mode; parameters equal timm's, and MACs equal those PyTorch's
FLOP counter measures on timm's model (two FLOPs per multiply-accumulate).
The Keras build of each is checked against the PyTorch build in
tests/test_cross_framework.py, like every shipped spec."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
timm = pytest.importorskip("timm")

import resdsl

# spec name -> (timm model name, input size of the output check). 64 keeps it cheap (the
# layers do not depend on the input size); resnet10t runs at its native 176, where layer3
# leaves an odd 11x11 map that layer4's shortcut pools with ceil_mode: 6x6, not 5x5, and a
# last window of one row or column. (Without padding, count_include_pad=False changes
# nothing in PyTorch: a ceil-mode window's part past the input never counts.)
TIMM_SPECS = {name: (name, 64) for name in ("seresnet50", "seresnext50_32x4d", "resnet18d", "resnet26d", "resnet50d",
                                              "ecaresnet50d", "resnetrs50", "resnetv2_50", "resnetv2_50d",
                                              "resnet200d")}
TIMM_SPECS["resnet10t"] = ("resnet10t", 176)
# Issue 22's networks, written with split/concat, softmax across paths or positions, dilated
# and weight-standardised convs, layer norm, blur pooling and stages of several block kinds.
TIMM_SPECS.update((name, (name, 64)) for name in (
    "skresnet18", "skresnext50_32x4d", "resnest14d", "resnest50d", "res2net50_26w_4s", "res2next50", "gcresnet50t",
    "resnetv2_50x1_bit", "resnetblur50", "resnet200d"))


def _randomise(model) -> None:
    """timm initialises BN to the identity, and some layers to zero (the last conv of a
    global-context MLP, conv biases); make every norm and every weight matter, reproducibly."""
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                for t, scale, shift in ((m.weight, 1.0, 0.5), (m.running_var, 1.0, 0.5)):
                    t.copy_(torch.rand(t.shape, generator=g) * scale + shift)
                for t in (m.bias, m.running_mean):
                    t.copy_(torch.randn(t.shape, generator=g) * 0.1)
            elif isinstance(m, (torch.nn.GroupNorm, torch.nn.LayerNorm)) and m.weight is not None:
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
        for p in model.parameters():
            if not p.any():
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)


def _macs(timm_name: str, size: int) -> int:
    """MACs of timm's network at size x size: PyTorch's FLOP counter on a copy made on
    the meta device (shapes only, no weights or arithmetic) / 2."""
    from torch.utils.flop_counter import FlopCounterMode
    with torch.device("meta"):
        model = timm.create_model(timm_name, pretrained=False).eval()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.zeros(1, 3, size, size, device="meta"))
    return counter.get_total_flops() // 2


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("spec", sorted(TIMM_SPECS))
def test_spec_is_timms_network(spec):
    timm_name, size = TIMM_SPECS[spec]
    reference = timm.create_model(timm_name, pretrained=False).eval()
    _randomise(reference)
    r = resdsl.resolve(spec)
    assert r.params == sum(p.numel() for p in reference.parameters())
    # The spec's input is the one timm's default config trains these weights at
    # (224; resnet10t 176, resnetrs50 160, resnet200d 256), and the MACs are counted there.
    native = tuple(reference.pretrained_cfg["input_size"])
    assert r.input_shape == native
    assert r.macs == _macs(timm_name, native[1])

    ours = resdsl.build(r, backend="torch").eval()
    result = ours.load_state_dict(reference.state_dict(), strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        worst = float((ours(x) - reference(x)).abs().max())
    assert worst <= 1e-5, f"{spec}: outputs differ by {worst:.2e}"


def test_resnet10t_output_check_pools_an_odd_map():
    """The 176x176 check above means something only if layer4's shortcut pools an odd
    map, keeping a last partial window (ceil_mode): 11x11 -> 6x6."""
    r = resdsl.resolve("resnet10t")
    pool = r.graph.nodes["layer4.0.downsample.0"]
    (source,) = r.graph.predecessors("layer4.0.downsample.0")
    assert pool["op"] == "avgpool" and pool["attrs"]["ceil_mode"] and not pool["attrs"]["count_include_pad"]
    assert r.graph.nodes[source]["shape"] == (256, 11, 11) and pool["shape"] == (256, 6, 6)
