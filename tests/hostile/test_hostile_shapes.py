"""Every op's shape rule on inputs of every rank: a shape or a ShapeError (located
by the shape pass as a SpecError), never an IndexError or an unpacking
ValueError. The op table is iterated, so a new op is covered without a new test;
only a new attribute class needs a sample here (and the test says so)."""
from __future__ import annotations

import itertools

import pytest

import resdsl
from resdsl import SpecError
from resdsl.ir import attrs as A
from resdsl.ir.ops import OPS, ShapeError
from resdsl.ir.passes import _padding_and_shape

# A few attribute values per attribute class: typical, and the extremes the
# shape rules branch on ('same' padding, a kernel wider than the input, groups).
SAMPLES = {
    A.NoAttrs: [A.NoAttrs()],
    A.InputAttrs: [A.InputAttrs(shape=(3, 8, 8))],
    A.ConvAttrs: [A.ConvAttrs(filters=4, kernel=(3, 3), stride=(1, 1)),
                  A.ConvAttrs(filters=6, kernel=(3, 3), stride=(2, 2), groups=2, padding=None, padding_mode="same"),
                  A.ConvAttrs(filters=4, kernel=(9, 9), stride=(1, 1)),
                  A.ConvAttrs(filters=0, kernel=(1, 1), stride=(1, 1)),
                  A.ConvAttrs(filters=4, kernel=(3, 3), stride=(1, 1), dilation=(3, 3), standardize=True),
                  A.ConvAttrs(filters=4, kernel=(3, 3), stride=(2, 2), dilation=(2, 2), padding=None,
                              padding_mode="same")],
    A.NormAttrs: [A.NormAttrs(), A.NormAttrs(type="groupnorm", groups=2), A.NormAttrs(type="groupnorm", groups=3),
                  A.NormAttrs(type="groupnorm", groups=0), A.NormAttrs(type="layernorm", eps=1e-6)],
    A.ActAttrs: [A.ActAttrs(fn="relu")],
    A.PoolAttrs: [A.PoolAttrs(kernel=(2, 2), stride=(2, 2)),
                  A.PoolAttrs(kernel=(3, 3), stride=(2, 2), padding=None, padding_mode="same", ceil_mode=True),
                  A.PoolAttrs(kernel=(20, 20), stride=(1, 1))],
    A.GlobalPoolAttrs: [A.GlobalPoolAttrs(), A.GlobalPoolAttrs(keepdims=True)],
    A.RateAttrs: [A.RateAttrs(rate=0.1)],
    A.ChannelConvAttrs: [A.ChannelConvAttrs(kernel=3), A.ChannelConvAttrs(kernel=2), A.ChannelConvAttrs(kernel=99)],
    A.PadAttrs: [A.PadAttrs(padding=(1, 1, 1, 1))],
    A.SubsampleAttrs: [A.SubsampleAttrs(stride=2)],
    A.ChannelPadAttrs: [A.ChannelPadAttrs(before=1, after=2)],
    A.AddAttrs: [A.AddAttrs()],
    A.DenseAttrs: [A.DenseAttrs(units=5)],
    A.SplitAttrs: [A.SplitAttrs(index=0, parts=2), A.SplitAttrs(index=2, parts=3), A.SplitAttrs(index=1, sizes=(1, 3)),
                   A.SplitAttrs(index=0, sizes=(2, 2, 2))],
    A.SoftmaxAttrs: [A.SoftmaxAttrs(), A.SoftmaxAttrs(axis="spatial"), A.SoftmaxAttrs(axis="paths", paths=2),
                     A.SoftmaxAttrs(axis="paths", paths=2, groups=2), A.SoftmaxAttrs(axis="paths", paths=3)],
    A.BlurPoolAttrs: [A.BlurPoolAttrs(), A.BlurPoolAttrs(kernel=5, stride=1, padding=(2, 2, 2, 2), pad_mode="zeros"),
                      A.BlurPoolAttrs(kernel=4, stride=2, padding=(4, 4, 4, 4))],
}

# Ranks 0 to 4, including the two the IR uses (a vector and a C×H×W map) and
# shapes that are one of those ranks but odd (1×1 maps, one channel).
SHAPES = [(), (4,), (1,), (4, 8), (4, 8, 8), (4, 1, 1), (1, 2, 2), (3, 8, 8), (2, 4, 8, 8), (1, 1, 1, 1)]


def test_every_attribute_class_has_samples():
    missing = sorted({d.attrs.__name__ for d in OPS.values()} - {c.__name__ for c in SAMPLES})
    assert not missing, f"add sample attributes for {missing} to SAMPLES"


def _counts(arity: int) -> set[int]:
    """The op's own arity, one input too few and one too many; any number (-1): none to three."""
    return {0, 1, 2, 3} if arity == -1 else {max(arity - 1, 0), arity, arity + 1}


def _inputs(arity: int):
    """Every combination of shapes, for each count of inputs."""
    for n in sorted(_counts(arity)):
        yield from itertools.product(SHAPES, repeat=n)


@pytest.mark.parametrize("op", sorted(OPS))
def test_shape_rules_give_a_shape_or_a_shape_error(op):
    d = OPS[op]
    outcomes = {"shape": 0, "refused": 0}
    for attrs in SAMPLES[d.attrs]:
        for ins in _inputs(d.arity):
            try:
                attrs_out, shape = _padding_and_shape(op, attrs, list(ins))
            except ShapeError as exc:
                assert str(exc) and exc.code, (op, attrs, ins)
                outcomes["refused"] += 1
                continue
            assert len(ins) == d.arity or d.arity == -1 and ins, (op, ins, shape)
            assert isinstance(shape, tuple) and len(shape) in (1, 3), (op, attrs, ins, shape)
            assert all(isinstance(v, int) and v >= 1 for v in shape), (op, attrs, ins, shape)
            assert attrs_out.get("padding_mode") != "same" or attrs_out["padding"] is not None
            # the counts of a shape that was accepted never fail either
            assert d.params(attrs_out, list(ins)) >= 0 and d.buffers(attrs_out, list(ins)) >= 0
            assert d.macs(attrs_out, list(ins), shape) >= 0
            outcomes["shape"] += 1
    assert outcomes["refused"] > 0  # every op refuses something (a rank-0 tensor at least)
    assert outcomes["shape"] > 0 or op == "input"  # and takes something


def test_vectors_and_odd_ranks_are_refused_with_what_was_expected():
    conv = SAMPLES[A.ConvAttrs][0]
    with pytest.raises(ShapeError, match=r"conv needs a feature map \(C×H×W\), but its input is a vector of 4"):
        _padding_and_shape("conv", conv, [(4,)])
    with pytest.raises(ShapeError, match=r"dense needs a vector, but its input is a 4×8×8 feature map"):
        _padding_and_shape("dense", SAMPLES[A.DenseAttrs][0], [(4, 8, 8)])
    with pytest.raises(ShapeError, match=r"input has shape \(2×4×8×8\), of rank 4"):
        _padding_and_shape("act", SAMPLES[A.ActAttrs][0], [(2, 4, 8, 8)])
    with pytest.raises(ShapeError, match="add takes 2 inputs, got 1"):
        _padding_and_shape("add", A.AddAttrs(), [(4, 8, 8)])
    with pytest.raises(ShapeError, match="concat takes one input or more, got none"):
        _padding_and_shape("concat", A.NoAttrs(), [])
    with pytest.raises(ShapeError, match=r"blur_pool needs a feature map \(C×H×W\), but its input is a vector of 4"):
        _padding_and_shape("blur_pool", A.BlurPoolAttrs(), [(4,)])
    with pytest.raises(ShapeError, match=r"concat joins .* given 4×8×8 and 4"):
        _padding_and_shape("concat", A.NoAttrs(), [(4, 8, 8), (4,)])
    with pytest.raises(ShapeError, match=r"attention_pool needs a feature map \(C×H×W\), but its weights is a vector"):
        _padding_and_shape("attention_pool", A.NoAttrs(), [(4, 8, 8), (1,)])


# ---- the same through specs: shortcut ops on a vector ----------------------------

VECTOR_BLOCK = """\
resdsl: 1
name: t
input: {{height: 8, width: 8, channels: 3}}
blocks:
  b:
    main: [{{dense: {{units: $filters}}}}]
    shortcut: {shortcut}
stem: [{{conv: {{filters: 4}}}}, global_avgpool]
stages: [{{block: b, filters: 8, stride: {stride}}}]
head: [{{dense: {{units: 2}}}}]
"""


@pytest.mark.parametrize("shortcut, op", [("zeropad", "channel_pad"), ("projection", "conv"), ("avg_down", "conv")])
@pytest.mark.parametrize("stride", [1, 2])
def test_a_shortcut_on_a_vector_is_a_located_error(shortcut, op, stride):
    with pytest.raises(SpecError) as info:
        resdsl.resolve(VECTOR_BLOCK.format(shortcut=shortcut, stride=stride))
    d = info.value.first
    assert d.code == "shape-error" and (d.span.line, d.span.column) == (7, 15)
    assert f"{op} needs a feature map (C×H×W), but its input is a vector of 4" in d.message
    assert "global pooling" in d.hint


@pytest.mark.parametrize("layer", ["zeropad: {padding: 1}", "maxpool: {size: 2}", "avgpool: {size: 2, padding: same}",
                                   "global_maxpool", "conv: {filters: 2, padding: same}"])
def test_spatial_layers_in_the_head_after_pooling_are_located(layer):
    text = VECTOR_BLOCK.format(shortcut="none", stride=1).replace("head: [", f"head: [{{{layer}}}, " if ":" in layer
                                                                  else f"head: [{layer}, ")
    with pytest.raises(SpecError) as info:
        resdsl.resolve(text)
    assert info.value.code == "shape-error" and info.value.first.span.line == 10
    assert "but its input is a vector" in info.value.first.message
