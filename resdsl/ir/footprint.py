"""What an op contributes to a network's receptive field and to its training
memory: the two per-op rules behind `resdsl summary`'s receptive-field and
activation-memory columns. Each OpDef (ir/ops.py) holds one of each, as `window`
and `memory`; an op that leaves them out gets the defaults here.

Each is a value, or a function of the op's attributes.

Receptive field. `window` is the op's spatial window per axis,
(kernel_h, kernel_w, stride_h, stride_w) with any dilation already folded into
the kernel (a 3×3 at dilation 2 spans 5), or GLOBAL where one output value
reads the whole map (global pooling, flatten before a dense layer, attention
over positions). The default reads the attributes: an op with a (h, w)
`kernel` and `stride` is a window (with its `dilation`, an int or a pair, if
it has one); every other op is pointwise in space (act, norm, add, concat, a channel softmax).
Padding moves a receptive field but does not change its size or jump.

Memory. `memory` says which tensors PyTorch's autograd keeps from the
op's forward for its backward (what `torch.autograd.graph.saved_tensors_hooks`
sees): its inputs, its output, extra bytes per output element (max-pool
indices, dropout masks), or a view of its input (no new storage). The default,
`INPUTS`, is right for most ops with weights or a nonlinearity; an op that keeps
nothing (add, pad, concat, a slice) should say NOTHING or VIEW, or it is
counted too high.
"""
from __future__ import annotations

from dataclasses import dataclass

GLOBAL = "global"


@dataclass(frozen=True)
class Memory:
    """What an op's backward keeps. `inputs`/`output`: it saves those tensors
    (a tensor saved by several ops counts once); `extra`: bytes per output
    element it saves besides (max-pool's int64 indices: 8); `view`: its output
    shares its first input's storage (saving it keeps that storage)."""

    inputs: bool = False
    output: bool = False
    extra: int = 0
    view: bool = False


INPUTS = Memory(inputs=True)
OUTPUT = Memory(output=True)
NOTHING = Memory()
VIEW = Memory(view=True)


def _pair(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def default_window(a) -> tuple[int, int, int, int] | None:
    """An op's window from its attributes (see the module's docstring); None: pointwise."""
    kernel, stride = a.get("kernel"), a.get("stride")
    if isinstance(kernel, (tuple, list)) and len(kernel) == 2 and stride is not None:
        (kh, kw), (sh, sw), (dh, dw) = _pair(kernel), _pair(stride), _pair(a.get("dilation", 1))
        return (dh * (kh - 1) + 1, dw * (kw - 1) + 1, sh, sw)
    return None


def stride_window(a) -> tuple[int, int, int, int]:
    """A 1×1 window at the op's stride (every s-th row and column)."""
    s = int(a["stride"])
    return (1, 1, s, s)


def rule(value, attrs):
    """An OpDef's `window` or `memory`: a value, or a function of the op's attributes."""
    return value(attrs) if callable(value) else value


# Activations by what their backward reads: PyTorch's relu, sigmoid and tanh
# derivatives are written in their output; the others in their input.
_ACT_SAVES_OUTPUT = {"relu", "sigmoid", "tanh"}


def dense_memory(a) -> Memory:
    """A dense layer keeps its input; an activation inside it keeps a tensor of its size."""
    return INPUTS if a.get("activation", "linear") == "linear" else Memory(inputs=True, output=True)


def act_memory(a) -> Memory:
    fn = a.get("fn")
    if fn == "linear":  # nn.Identity: the input itself
        return VIEW
    return OUTPUT if fn in _ACT_SAVES_OUTPUT else INPUTS
