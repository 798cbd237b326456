"""The layer vocabulary shared by stems, heads and user-defined blocks.

A layer is written `- conv: {filters: 64, kernel: 7}`, or as a bare name
(`- norm`) when its defaults suffice. Inside a user block, any integer may be a
parameter reference such as `$filters` — substitution, never evaluation.
"""
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, StrictBool, StrictInt, Tag, model_validator

from ..vocab import ACTIVATIONS, DENSE_ACTIVATIONS, GATES, INITS, NORMS

IDENT = r"^[A-Za-z_][A-Za-z0-9_]*$"
Name = Annotated[str, Field(pattern=IDENT, max_length=64)]
# A layer's name may be a dotted path of identifiers and sequence indices (`conv1.0`,
# `stem.conv`, `head.fc`), so a spec can give modules timm's names: the layers under one
# prefix become one container (an nn.Sequential where the parts are indices).
PATH = r"^[A-Za-z_][A-Za-z0-9_]*(\.([A-Za-z_][A-Za-z0-9_]*|[0-9]{1,4}))*$"
LayerName = Annotated[str, Field(pattern=PATH, max_length=64)]
# A parameter reference or an integer expression of parameters: `$filters`, `$filters * 4`,
# `($width + 1) // 2` (checked and computed at lowering, never evaluated as Python).
Ref = Annotated[str, Field(pattern=r"^[-+*/() 0-9A-Za-z_]*\$[-+*/() 0-9$A-Za-z_]*$", max_length=200)]
PosInt = Annotated[StrictInt, Field(ge=1, le=1_000_000)]
NonNegInt = Annotated[StrictInt, Field(ge=0, le=1_000_000)]
IntOrRef = Union[PosInt, Ref]
Size2 = Union[IntOrRef, Annotated[list[IntOrRef], Field(min_length=2, max_length=2)]]
Padding = Union[Literal["same", "valid"], NonNegInt, Ref,
                Annotated[list[Union[NonNegInt, Ref]], Field(min_length=2, max_length=4)]]
ActName = Literal[ACTIVATIONS]
DenseAct = Literal[DENSE_ACTIVATIONS]
NormName = Literal[NORMS]
GateName = Literal[GATES]
Rate = Annotated[float, Field(ge=0, lt=1)]
Eps = Annotated[float, Field(gt=0, lt=1)]
Init = Literal[INITS]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class LayerBase(Strict):
    """What every layer takes: where it reads from, when not from the layer before it."""

    from_: LayerName | None = Field(
        None, alias="from", description="an earlier layer of the same block (or stem/head) to read instead of the "
                                        "previous layer: a branch of the block's graph")


class ConvLayer(LayerBase):
    filters: IntOrRef
    kernel: Size2 = 3
    stride: Size2 = 1
    padding: Padding = Field("valid", description="'same', 'valid', an int, [h, w] or [top, bottom, left, right]")
    dilation: Size2 = Field(1, description="a kernel tap every `dilation` pixels: a 3×3 kernel at dilation 2 "
                                           "covers 5×5 (give it padding 2 to keep the size)")
    groups: IntOrRef = 1
    bias: StrictBool | None = Field(None, description="default: defaults.conv.bias")
    init: Init | None = None
    standardize: StrictBool | None = Field(None, description="weight standardisation (timm's StdConv2d); "
                                                             "default: defaults.conv.standardize")
    standardize_eps: Eps | None = Field(None, description="default: defaults.conv.standardize_eps")
    name: LayerName | None = None


class NormLayer(LayerBase):
    type: NormName | None = Field(None, description="default: defaults.norm.type")
    groups: IntOrRef | None = Field(None, description="group norm: channel groups (default: defaults.norm.groups)")
    eps: Annotated[float, Field(gt=0, lt=1)] | None = None
    momentum: Annotated[float, Field(gt=0, le=1)] | None = None
    zero_init: StrictBool = Field(False, description="start gamma at 0")
    name: LayerName | None = None


class ActLayer(LayerBase):
    fn: ActName | None = Field(None, description="default: defaults.activation")
    name: LayerName | None = None


class PoolLayer(LayerBase):
    size: Size2
    stride: Size2 | None = Field(None, description="default: the pool size")
    padding: Padding = "valid"
    name: LayerName | None = None


class AvgPoolLayer(PoolLayer):
    ceil_mode: StrictBool = Field(False, description="keep a last, partial window (PyTorch's ceil_mode)")
    count_include_pad: StrictBool = Field(True, description="padded zeros count in the average (PyTorch's default)")


class GlobalPoolLayer(LayerBase):
    keepdims: StrictBool = Field(False, description="keep H and W as 1×1 (C×1×1), for a gate's convs")
    name: LayerName | None = None


class DropoutLayer(LayerBase):
    rate: Rate = Field(description="probability of zeroing an element in training; inactive in eval mode")
    name: LayerName | None = None


class MultiplyLayer(LayerBase):
    """The current tensor (a gate) times an earlier tensor of the same block; either
    may broadcast (one value per channel, C×1×1, or per position, 1×H×W)."""
    with_: LayerName = Field(alias="with", description="the layer whose output is gated (a name in the same block)")
    name: LayerName | None = None


class AddLayer(LayerBase):
    """The current tensor plus an earlier tensor of the same block: of the same shape,
    or one that broadcasts (one value per channel, C×1×1, or per position, 1×H×W)."""
    with_: LayerName = Field(alias="with", description="the layer whose output is added (a name in the same block)")
    name: LayerName | None = None


class SplitLayer(LayerBase):
    """The current tensor split along the channels; part i is the layer `<name>.i`,
    and the layer after the split reads part 0 unless it says `from:`."""
    parts: IntOrRef | None = Field(None, description="this many equal parts (give `parts` or `sizes`)")
    sizes: Annotated[list[IntOrRef], Field(min_length=2, max_length=1024)] | None = Field(
        None, description="the parts' channel counts, adding up to the input's channels")
    name: LayerName | None = None


class ConcatLayer(Strict):
    """Earlier tensors of the same block joined along the channels, in the order given."""
    inputs: Annotated[list[LayerName], Field(min_length=2, max_length=1024)] = Field(
        description="the layers whose outputs are joined (names in the same block; a split's parts are "
                    "`<split>.0`, `<split>.1`, ...)")
    name: LayerName | None = None


class SoftmaxLayer(LayerBase):
    axis: Literal["channels", "spatial", "paths"] = Field(
        "channels", description="channels: at each position; spatial: over the positions of each channel "
                                "(attention pooling's weights); paths: across `paths` parts of the channels")
    paths: IntOrRef | None = Field(None, description="axis paths: how many parts the channels hold (timm's radix); "
                                                     "the output is laid out part by part")
    groups: IntOrRef = Field(1, description="axis paths: the channels are groups × paths × the rest, each group "
                                            "normalised on its own (timm's radix softmax with cardinality)")
    name: LayerName | None = None


class BlurPoolLayer(LayerBase):
    size: IntOrRef = Field(3, description="taps of the binomial filter per side (3: [1, 2, 1] / 4)")
    stride: IntOrRef = 2
    padding: Union[NonNegInt, Ref, Annotated[list[Union[NonNegInt, Ref]], Field(min_length=2, max_length=4)]] | None \
        = Field(None, description="default: ((stride - 1) + (size - 1)) // 2 on every side, as timm")
    pad_mode: Literal["reflect", "zeros"] = Field("reflect", description="reflect the map at its borders (timm's "
                                                                         "BlurPool2d), or pad zeros")
    name: LayerName | None = None


class AttentionPoolLayer(LayerBase):
    """The current tensor (weights over the positions, e.g. a spatial softmax) pools
    an earlier tensor of the block: one weighted sum per channel, C×1×1."""
    with_: LayerName = Field(alias="with", description="the layer whose output is pooled (a name in the same block)")
    name: LayerName | None = None


class ChannelConvLayer(LayerBase):
    kernel: IntOrRef = Field(description="odd kernel size of the 1-D conv across channels (ECA)")
    bias: StrictBool = False
    name: LayerName | None = None


class SEParams(Strict):
    reduction: PosInt = Field(16, description="channels / reduction, rounded as timm's make_divisible")
    divisor: PosInt = Field(8, description="the reduced width is a multiple of this")
    round_limit: Annotated[float, Field(ge=0, le=1)] = Field(
        0.0, description="round up by one divisor if rounding lost more than this fraction (timm: 0)")
    act: ActName = "relu"
    gate: GateName = "sigmoid"
    bias: StrictBool = True
    name: LayerName | None = Field(None, description="default: se")


class ECAParams(Strict):
    kernel: IntOrRef | None = Field(None, description="default: timm's rule from the channels, gamma and beta")
    gamma: PosInt = 2
    beta: NonNegInt = 1
    gate: GateName = "sigmoid"
    name: LayerName | None = Field(None, description="default: eca")


class SELayer(LayerBase, SEParams):
    """Squeeze-and-excitation as a layer."""


class ECALayer(LayerBase, ECAParams):
    """ECA as a layer."""


class ZeroPadLayer(LayerBase):
    padding: Union[NonNegInt, Ref, Annotated[list[Union[NonNegInt, Ref]], Field(min_length=2, max_length=4)]]
    name: LayerName | None = None


class NamedOnly(LayerBase):
    name: LayerName | None = None


class DenseLayer(LayerBase):
    units: IntOrRef
    activation: DenseAct | None = None
    bias: StrictBool | None = Field(None, description="default: defaults.dense.bias")
    init: Init | None = None
    name: LayerName | None = None


class BlockLayer(Strict):
    """A user block used inside another user block."""
    type: Name
    filters: IntOrRef | None = None
    stride: IntOrRef = 1
    args: dict[Name, Union[NonNegInt, Ref]] = {}
    name: Name | None = None


LAYER_MODELS: dict[str, type[Strict]] = {
    "conv": ConvLayer, "norm": NormLayer, "act": ActLayer, "maxpool": PoolLayer,
    "avgpool": AvgPoolLayer, "global_avgpool": GlobalPoolLayer, "zeropad": ZeroPadLayer,
    "flatten": NamedOnly, "dense": DenseLayer, "block": BlockLayer,
    "global_maxpool": GlobalPoolLayer, "global_avgmaxpool": GlobalPoolLayer, "dropout": DropoutLayer,
    "multiply": MultiplyLayer, "add": AddLayer, "channel_conv": ChannelConvLayer, "se": SELayer, "eca": ECALayer,
    "split": SplitLayer, "concat": ConcatLayer, "softmax": SoftmaxLayer, "blur_pool": BlurPoolLayer,
    "attention_pool": AttentionPoolLayer,
}
# Layers whose every field has a default, so the bare name is a complete layer.
BARE_OK = ("norm", "act", "global_avgpool", "flatten", "global_maxpool", "global_avgmaxpool", "se", "eca", "softmax",
           "blur_pool")


def _make_item(op: str, model: type[Strict]) -> type[BaseModel]:
    def normalise(cls, data: Any) -> Any:
        if data == op and op in BARE_OK:
            return {op: {}}
        if isinstance(data, dict) and data.get(op) is None and op in data and op in BARE_OK:
            return {op: {}}
        if op == "act" and isinstance(data, dict) and isinstance(data.get("act"), str):
            return {"act": {"fn": data["act"]}}
        return data

    camel = "".join(part.capitalize() for part in op.split("_"))
    return type(f"{camel}Item", (Strict,), {
        "__annotations__": {op: model},
        "_normalise": model_validator(mode="before")(classmethod(normalise)),
        "__module__": __name__,
    })


LAYER_ITEMS = {op: _make_item(op, m) for op, m in LAYER_MODELS.items()}


def layer_tag(v: Any) -> str | None:
    if isinstance(v, str):
        return v
    if isinstance(v, dict) and len(v) == 1:
        return next(iter(v))
    if isinstance(v, BaseModel):
        return next(iter(type(v).model_fields))
    return None


Layer = Annotated[Union[tuple(Annotated[item, Tag(op)] for op, item in LAYER_ITEMS.items())],
                  Discriminator(layer_tag, custom_error_type="unknown-layer",
                                custom_error_message="unknown layer")]


def layer_op(item: BaseModel) -> str:
    return next(iter(type(item).model_fields))


def layer_params(item: BaseModel) -> Strict:
    return getattr(item, layer_op(item))
