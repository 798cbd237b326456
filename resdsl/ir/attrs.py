"""Typed attributes of the IR's ops: one frozen dataclass per op kind.

A node's `attrs` is one of these. Fields are checked when the node is made (a
misspelt attribute is a TypeError in lowering, not a silent default in a
backend) and nothing downstream can change them in place. They also read like
the mappings they replace (`attrs["filters"]`, `attrs.get("ceil_mode")`), so
the shape functions, emitters and renderer index them by name.

Padding is always four explicit amounts (top, bottom, left, right) once the
shape pass has run; before it, a 'same' padding is `padding_mode="same"` with
`padding=None`.

The classes are dataclasses, for `fields` and `replace`, but share one
`__init__`, `__repr__`, `__eq__`, `__hash__` and frozen `__setattr__` (below),
which behave as the ones dataclass(frozen=True) writes: generating those costs
an `exec` per method and class, a few milliseconds of every `resdsl` start.
"""
from __future__ import annotations

from dataclasses import MISSING, FrozenInstanceError, dataclass, fields, replace
from typing import Any, Iterator

Pad = tuple[int, int, int, int]


class Attrs:
    """Mapping-style reading of a frozen dataclass's fields.

    An instance's `__dict__` holds exactly its fields (`__init__` sets each one
    and frozenness forbids others), so lookups read it directly: the passes and
    emitters index attrs on every node."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """The fields by position or name, with their defaults: a missing, unknown or
        twice-given field is a TypeError, as with the generated `__init__`."""
        cls = type(self)
        names = cls._field_names
        if len(args) > len(names):
            raise TypeError(f"{cls.__qualname__}() takes {len(names)} positional arguments but {len(args)} were given")
        values = dict(zip(names, args))
        for key, value in kwargs.items():
            if key not in names:
                raise TypeError(f"{cls.__qualname__}() got an unexpected keyword argument '{key}'")
            if key in values:
                raise TypeError(f"{cls.__qualname__}() got multiple values for argument '{key}'")
            values[key] = value
        d = self.__dict__  # object's own dict: assignment is what frozenness forbids
        for name in names:
            if name in values:
                d[name] = values[name]
            elif name in cls._defaults:
                d[name] = cls._defaults[name]
            else:
                raise TypeError(f"{cls.__qualname__}() missing required argument: '{name}'")

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __getitem__(self, key: str) -> Any:
        return self.__dict__[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.__dict__.get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self.__dict__

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    def keys(self):
        return self._names()

    def items(self):
        d = self.__dict__
        return [(k, d[k]) for k in self._names()]

    def values(self):
        d = self.__dict__
        return [d[k] for k in self._names()]

    # As dataclass(frozen=True) writes them: the fields in order, compared only with
    # the same class, hashed as the tuple of values.
    def __repr__(self) -> str:
        return f"{type(self).__qualname__}({', '.join(f'{k}={v!r}' for k, v in self.items())})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self is other or self.values() == other.values()

    def __hash__(self) -> int:
        return hash(tuple(self.values()))

    def replace(self, **changes) -> "Attrs":
        return replace(self, **changes)

    # Fields left out of descriptions (tooltips, summaries) while at their default:
    # options most layers never set.
    QUIET: tuple[str, ...] = ()

    def described(self) -> dict:
        """The fields worth showing a reader."""
        defaults = {f.name: f.default for f in fields(self)}
        return {k: v for k, v in self.items() if not (k in self.QUIET and v == defaults[k])}

    # Set on each class by _attrs_class: its field names in order, and their defaults.
    _field_names: tuple[str, ...] = ()
    _defaults: dict[str, Any] = {}

    @classmethod
    def _names(cls) -> tuple[str, ...]:
        return cls._field_names


def _attrs_class(cls):
    """A dataclass with Attrs' shared methods; frozen by Attrs' `__setattr__`."""
    cls = dataclass(init=False, repr=False, eq=False)(cls)
    fs = fields(cls)
    if any(f.default_factory is not MISSING for f in fs):
        raise TypeError(f"{cls.__name__}: attrs take plain defaults, not default_factory")
    cls._field_names = tuple(f.name for f in fs)
    cls._defaults = {f.name: f.default for f in fs if f.default is not MISSING}
    return cls


@_attrs_class
class NoAttrs(Attrs):
    """identity, multiply, flatten, concat, attention_pool."""


@_attrs_class
class InputAttrs(Attrs):
    shape: tuple


@_attrs_class
class ConvAttrs(Attrs):
    filters: int
    kernel: tuple[int, int]
    stride: tuple[int, int]
    groups: int = 1
    bias: bool = False
    init: str = "kaiming_normal_fan_out"
    padding: Pad | None = (0, 0, 0, 0)
    padding_mode: str = "explicit"  # "same": resolved by the shape pass
    dilation: tuple[int, int] = (1, 1)  # a kernel tap every `dilation` pixels (atrous; selective kernels)
    # Weight standardisation (Qiao et al. 2019): each filter is shifted and scaled to zero
    # mean and unit variance before it is applied (timm's StdConv2d; BiT with eps 1e-8).
    standardize: bool = False
    standardize_eps: float = 1e-6

    QUIET = ("dilation", "standardize", "standardize_eps")


@_attrs_class
class NormAttrs(Attrs):
    type: str = "batchnorm"   # or "groupnorm", or "layernorm" (over the channels at each position)
    eps: float = 1e-5
    momentum: float = 0.1     # batch norm, PyTorch's convention: the weight of the new batch (Keras: 1 - this)
    gamma_init: str = "ones"  # "zeros": the block starts as the identity (Goyal et al. 2017)
    groups: int = 0           # group norm: how many channel groups

    QUIET = ("groups",)


@_attrs_class
class ActAttrs(Attrs):
    fn: str


@_attrs_class
class PoolAttrs(Attrs):
    """maxpool and avgpool; `ceil_mode` and `count_include_pad` as PyTorch's AvgPool2d."""

    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: Pad | None = (0, 0, 0, 0)
    padding_mode: str = "explicit"
    ceil_mode: bool = False
    count_include_pad: bool = True

    QUIET = ("ceil_mode", "count_include_pad")


@_attrs_class
class GlobalPoolAttrs(Attrs):
    keepdims: bool = False  # C×1×1 instead of C (a gate's squeeze)

    QUIET = ("keepdims",)


@_attrs_class
class RateAttrs(Attrs):
    """dropout and drop_path: the probability of dropping."""

    rate: float


@_attrs_class
class ChannelConvAttrs(Attrs):
    kernel: int
    bias: bool = False


@_attrs_class
class PadAttrs(Attrs):
    padding: Pad


@_attrs_class
class SubsampleAttrs(Attrs):
    stride: int


@_attrs_class
class ChannelPadAttrs(Attrs):
    before: int
    after: int


@_attrs_class
class AddAttrs(Attrs):
    """The residual addition; `shortcut` names what its second input is (identity,
    projection, zeropad, subsample, avg_down, custom), for pictures and docs."""

    shortcut: str = "identity"


@_attrs_class
class SplitAttrs(Attrs):
    """One part of a split along the channels: `parts` equal parts, or the given
    `sizes` (which add up to the input's channels); this node is part `index`."""

    index: int
    parts: int = 0
    sizes: tuple = ()


@_attrs_class
class SoftmaxAttrs(Attrs):
    """Softmax along `axis`: "channels" (at each position), "spatial" (over all
    positions of each channel) or "paths": the channels seen as (groups, paths,
    rest), normalised across the paths and laid out path by path (timm's radix
    softmax; with one group, selective kernels' softmax across the paths)."""

    axis: str = "channels"
    paths: int = 1
    groups: int = 1

    QUIET = ("paths", "groups")


@_attrs_class
class BlurPoolAttrs(Attrs):
    """A fixed binomial blur of `kernel` taps per side, then subsampling by `stride`
    (Zhang 2019, anti-aliased downsampling; timm's BlurPool2d); padding is
    reflected ("reflect") or zeros ("zeros")."""

    kernel: int = 3
    stride: int = 2
    padding: Pad = (1, 1, 1, 1)
    pad_mode: str = "reflect"


@_attrs_class
class DenseAttrs(Attrs):
    units: int
    activation: str = "linear"
    bias: bool = True
    init: str = "torch_default"
