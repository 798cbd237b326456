"""The spec language (format version 1) as pydantic models.

Conventions stated once: BatchNorm `momentum` is PyTorch's (weight of the new
batch statistic; 0.1 here is Keras' 0.9); shapes are channels-first (C, H, W).
"""
from typing import Annotated, Literal, Union

from pydantic import Field, StrictBool, StrictInt

from ..vocab import BLOCKS
from .layers import (
    IDENT,
    PATH,
    ActName,
    ECAParams,
    Init,
    Layer,
    LayerName,
    Name,
    NonNegInt,
    NormName,
    PosInt,
    Ref,
    SEParams,
    Strict,
)

ShortcutKind = Literal["identity", "projection", "avg_down", "zeropad", "none"]
# A stage (`layer1`), a block (`layer2.1`) or a layer (`layer2.1.conv2`, `fc`); checked against the network by the IR.
OutputName = Annotated[str, Field(min_length=1, max_length=200)]
BUILTIN_BLOCKS = tuple(BLOCKS)


class InputSpec(Strict):
    height: PosInt
    width: PosInt
    channels: PosInt


class ConvDefaults(Strict):
    bias: StrictBool = Field(False, description="add a bias to every conv unless a layer says otherwise")
    init: Init = Field("kaiming_normal_fan_out", description="weight initialiser of convs (torchvision's default)")
    standardize: StrictBool = Field(
        False, description="weight-standardise every conv (Qiao et al. 2019; timm's StdConv2d) unless a layer says "
                           "otherwise; also the convs of built-in blocks, not those of `se` gates")
    standardize_eps: Annotated[float, Field(gt=0, lt=1)] = Field(
        1e-6, description="added to each filter's variance when standardising (timm's StdConv2d: 1e-6; BiT: 1e-8)")


class NormDefaults(Strict):
    type: NormName = Field("batchnorm", description="batchnorm, or groupnorm (statistics of channel groups of "
                                                      "each sample; no running statistics)")
    groups: PosInt = Field(32, description="group norm's channel groups (PyTorch's and timm's usual 32)")
    eps: Annotated[float, Field(gt=0, lt=1)] = 1e-5
    momentum: Annotated[float, Field(gt=0, le=1)] = Field(
        0.1, description="PyTorch convention: weight of the new batch (Keras momentum = 1 - this)")
    zero_init_last: StrictBool = Field(
        False, description="start each residual block's last norm gamma at 0 (torchvision's zero_init_residual)")


class DenseDefaults(Strict):
    bias: StrictBool = True
    init: Init = "torch_default"


class Defaults(Strict):
    conv: ConvDefaults = ConvDefaults()
    norm: NormDefaults = NormDefaults()
    dense: DenseDefaults = DenseDefaults()
    activation: ActName = "relu"


class ConvOverride(Strict):
    bias: StrictBool | None = None
    init: Init | None = None


class NormOverride(Strict):
    type: NormName | None = None
    groups: PosInt | None = None
    eps: Annotated[float, Field(gt=0, lt=1)] | None = None
    momentum: Annotated[float, Field(gt=0, le=1)] | None = None


class SEAttention(Strict):
    se: SEParams


class ECAAttention(Strict):
    eca: ECAParams


Attention = SEAttention | ECAAttention


class StageRun(Strict):
    """Consecutive blocks of one kind inside a stage."""

    block: Name = Field(description="a built-in block kind or one defined under `blocks`")
    repeat: Annotated[StrictInt, Field(ge=1)] = 1
    args: dict[Name, Union[NonNegInt, Ref]] = Field({}, description="arguments of a user-defined block, over the "
                                                                    "stage's `args`")


class Stage(Strict):
    name: Annotated[str, Field(pattern=PATH, max_length=64)] | None = Field(
        None, description="default: layer1, layer2, ... (torchvision); a dotted path such as stages.0.blocks "
                          "nests the stage in containers (timm's names)")
    block: Name | None = Field(None, description="a built-in block kind or one defined under `blocks` (give `block` "
                                                 "or `blocks`)")
    blocks: Annotated[list[StageRun], Field(min_length=1, max_length=1000)] | None = Field(
        None, description="runs of blocks of different kinds, in order: `[{block: first_kind}, {block: kind, "
                          "repeat: 3}]` (timm's Res2Net and ResNeSt change the first block of a stage)")
    filters: PosInt | None = Field(None, description="the block's base width (planes)")
    repeat: Annotated[StrictInt, Field(ge=1)] = Field(1, description="how many blocks (with `block`)")
    stride: PosInt = 1
    stride_position: Literal["first", "last"] = Field(
        "first", description="'last' puts the stride on the stage's last block (keras.applications V2)")
    expansion: PosInt | None = Field(None, description="output channels = filters * expansion (bottleneck 4, basic 1)")
    groups: PosInt = 1
    width_per_group: PosInt = Field(64, description="bottleneck width = int(filters * width_per_group / 64) * groups")
    stride_on: Literal["1x1", "3x3"] = Field(
        "3x3", description="bottleneck: stride on the 3x3 (torchvision, v1.5) or first 1x1 (paper, Keras)")
    shortcut: ShortcutKind = Field(
        "projection", description="projection: 1x1 conv + norm where the shape changes; avg_down: ResNet-D's "
                                  "2x2 average pool, then the projection; identity; "
                                  "zeropad: the paper's option A; none: the plain twin")
    projection_on: Literal["shape", "channels"] = Field(
        "shape", description="'channels': a stride-only change subsamples instead of projecting")
    zero_init_last_norm: StrictBool | None = None
    conv: ConvOverride = ConvOverride()
    norm: NormOverride = NormOverride()
    activation: ActName | None = None
    args: dict[Name, Union[NonNegInt, Ref]] = Field({}, description="extra arguments of a user-defined block")
    attention: Attention | None = Field(
        None, description="channel attention in each built-in block, after its last norm (where timm puts it)")

    def runs(self) -> list[tuple[str, int, dict, tuple]]:
        """(block kind, repeat, user-block arguments, path of the kind's value in the
        stage) per run; one run for a stage with `block`."""
        if self.blocks is None:
            return [(self.block, self.repeat, dict(self.args), ("block",))]
        return [(r.block, r.repeat, {**self.args, **r.args}, ("blocks", i, "block")) for i, r in enumerate(self.blocks)]

    @property
    def depth(self) -> int:
        """How many blocks the stage has."""
        return sum(n for _, n, _, _ in self.runs())


class CustomShortcut(Strict):
    """A shortcut path written as layers, with where it reads from and when it is built."""

    layers: Annotated[list[Layer], Field(min_length=1)]
    from_: LayerName | None = Field(
        None, alias="from", description="a main-path layer the path reads (ResNet V2: the pre-activation); "
                                        "default: the block input")
    when: Literal["shape_changes", "always"] = Field(
        "shape_changes", description="build it only where the block changes the shape (elsewhere the identity), "
                                     "as a projection; or in every block")
    name: LayerName = Field("shortcut", description="its layers are named <name>.<layer>")


class UserBlock(Strict):
    description: str = ""
    params: dict[Name, NonNegInt | None] = Field(
        {}, description="parameters and their defaults (null: required); `filters` and `stride` are always given")
    main: Annotated[list[Layer], Field(min_length=1)]
    shortcut: ShortcutKind | list[Layer] | CustomShortcut = Field(
        "projection", description="a built-in shortcut kind (a stage's `shortcut:` overrides it), a list of layers "
                                  "(built where the shape changes), or a mapping with `layers`, `from`, `when`, `name`")
    projection_norm: StrictBool = Field(
        True, description="follow a projection shortcut's 1x1 conv with a norm (seed 000 has none)")
    after: list[Layer] = Field([], description="layers after the addition")


class Spec(Strict):
    resdsl: Literal[1] = Field(description="format version")
    name: Annotated[str, Field(pattern=IDENT, max_length=64)]
    description: str = Field("", max_length=2000)
    input: InputSpec
    defaults: Defaults = Defaults()
    drop_path_rate: Annotated[float, Field(ge=0, lt=1)] = Field(
        0.0, description="stochastic depth: the last block's drop rate, scaled linearly from 0 over the blocks (timm)")
    blocks: dict[Name, UserBlock] = {}
    stem: list[Layer] = []
    stages: list[Stage] = []
    head: list[Layer] = []
    outputs: Annotated[list[OutputName], Field(min_length=1)] | None = Field(
        None, description="the tensors the network returns, in this order: stage, block or layer names "
                          "(default: the last layer's output)")
