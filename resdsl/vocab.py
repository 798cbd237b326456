"""The names the language and the tools share, each listed once.

The spec models (what a spec may say), the IR (what it lowers), the backends
(what they build), the CLI (its choices) and the docs tests all read these
tuples, so a new name is added in one place. This module imports nothing but
the standard library, so every layer may use it.
"""
from __future__ import annotations

import keyword

# Built-in residual blocks: name -> what it is. Each has one lowering function in
# resdsl/ir/blocks.py, registered under the same name (a test checks both ways).
BLOCKS: dict[str, str] = {
    "basic": "two 3x3 convs (ResNet-18/34, the paper's CIFAR nets)",
    "bottleneck": "1x1 reduce, 3x3 (grouped), 1x1 expand (ResNet-50+, ResNeXt, Wide)",
    "preact_basic": "pre-activation basic block (ResNet V2)",
    "preact_bottleneck": "pre-activation bottleneck (ResNet V2)",
}

# Activation functions, by the name a spec uses; `DENSE_ACTIVATIONS` adds what
# only makes sense on a classifier's output.
ACTIVATIONS: tuple[str, ...] = ("relu", "relu6", "sigmoid", "hard_sigmoid", "tanh", "silu", "gelu", "linear")
DENSE_ACTIVATIONS: tuple[str, ...] = ACTIVATIONS + ("softmax",)
# The activations a gate (squeeze-excitation, ECA) may end with.
GATES: tuple[str, ...] = ("sigmoid", "hard_sigmoid")

# Weight initialisers of convs and dense layers, by the name a spec uses. Each
# backend has its formula for every one (torch: runtime.init_weight; Keras:
# rules.KERNEL_INIT); tests/core/test_vocab.py checks both cover exactly these.
INITS: tuple[str, ...] = (
    "torch_default",           # PyTorch's own: kaiming_uniform(a=sqrt(5)), biases U(-1/sqrt(fan_in), ...)
    "kaiming_normal_fan_out",  # torchvision's ResNet initialisation
    "kaiming_normal_fan_in",
    "glorot_uniform",          # Keras' default
    "glorot_normal",
)

# Normalisations: BatchNorm (running statistics; momentum in PyTorch's convention),
# group norm (Wu & He 2018: statistics of channel groups of each sample, nothing running)
# and layer norm over the channels at each position (timm's LayerNorm2d).
NORMS: tuple[str, ...] = ("batchnorm", "groupnorm", "layernorm")

# How much of a network a picture or a summary shows.
LEVELS: tuple[str, ...] = ("stage", "block", "layer")

# Framework backends, each a package resdsl/backends/<name>/.
BACKENDS: tuple[str, ...] = ("torch", "keras")

# Names a layer or stage may not have, refused when a spec is validated (so `validate`
# says so, not only a build), in one list for every backend. In PyTorch each dotted part
# of a name is a module attribute: it must be an identifier that shadows nothing of
# torch.nn.Module (torch 2.x; tests/backends/test_torch_errors.py checks the list against
# the installed torch) nor of the emitted classes (`FUSE`).
NN_MODULE_NAMES = frozenset({
    "T_destination", "add_module", "apply", "bfloat16", "buffers", "call_super_init", "children", "compile",
    "cpu", "cuda", "double", "dump_patches", "eval", "extra_repr", "float", "forward", "get_buffer",
    "get_extra_state", "get_parameter", "get_submodule", "half", "ipu", "load_state_dict", "modules", "mtia",
    "named_buffers", "named_children", "named_modules", "named_parameters", "parameters",
    "register_backward_hook", "register_buffer", "register_forward_hook", "register_forward_pre_hook",
    "register_full_backward_hook", "register_full_backward_pre_hook", "register_load_state_dict_post_hook",
    "register_load_state_dict_pre_hook", "register_module", "register_parameter",
    "register_state_dict_post_hook", "register_state_dict_pre_hook", "requires_grad_", "set_extra_state",
    "set_submodule", "share_memory", "state_dict", "to", "to_empty", "train", "training", "type", "xpu",
    "zero_grad",
})
OWN_NAMES = frozenset({"FUSE"})
# A whole layer or stage name `x`: a block's definition (and the emitted classes and
# functions) call their input x, so a layer of that name would be read in its place.
INPUT_NAME = "x"


def reserved_why(part: str) -> str | None:
    """Why one dotted part of a layer or stage name cannot be used, or None if it can."""
    if part.isdigit():  # an index in a container (`downsample.0`)
        return None
    if not part.isidentifier():
        return "it is not a Python identifier"
    if keyword.iskeyword(part):
        return "it is a Python keyword"
    if part.startswith("_"):
        return "names starting with '_' are reserved for torch.nn.Module internals"
    if part in NN_MODULE_NAMES or part in OWN_NAMES:
        return "it would shadow an attribute of PyTorch's torch.nn.Module"
    return None
