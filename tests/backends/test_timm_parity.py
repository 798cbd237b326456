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
from tests.helpers.norms import randomise_norms

# spec name -> (timm model name, input size of the output check). 64 keeps it cheap (the
# layers do not depend on the input size); resnet10t runs at its native 176, where layer3
# leaves an odd 11x11 map that layer4's shortcut pools with ceil_mode: 6x6, not 5x5, and a
# last window of one row or column. (Without padding, count_include_pad=False changes
# nothing in PyTorch: a ceil-mode window's part past the input never counts.)
TIMM_SPECS = {name: (name, 64) for name in ("seresnet50", "seresnext50_32x4d", "resnet18d", "resnet26d", "resnet50d",
                                              "ecaresnet50d", "resnetrs50", "resnetv2_50", "resnetv2_50d")}
TIMM_SPECS["resnet10t"] = ("resnet10t", 176)


def _macs(model, size: int) -> int:
    from torch.utils.flop_counter import FlopCounterMode
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.zeros(1, 3, size, size))
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
    randomise_norms(reference)
    r = resdsl.resolve(spec)
    assert r.params == sum(p.numel() for p in reference.parameters())
    # The spec's input is the one timm's default config trains these weights at
    # (224; resnet10t 176, resnetrs50 160), and the MACs are counted there.
    native = tuple(reference.pretrained_cfg["input_size"])
    assert r.input_shape == native
    assert r.macs == _macs(reference, native[1])

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
