"""The names the language and the tools share, each listed once.

The spec models (what a spec may say), the IR (what it lowers), the backends
(what they build), the CLI (its choices) and the docs tests all read these
tuples, so a new name is added in one place. This module imports nothing but
the standard library, so every layer may use it.
"""
from __future__ import annotations

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
# The underscored attributes of torch.nn.Module (its internals and Python's own
# dunders), which a layer name would also shadow; other underscored names work,
# written `self._modules["__x"]` (scope.access) as keywords are.
NN_MODULE_PRIVATE = frozenset({
    "__annotations__", "__call__", "__class__", "__delattr__", "__dict__", "__dir__", "__doc__", "__eq__",
    "__format__", "__ge__", "__getattr__", "__getattribute__", "__getstate__", "__gt__", "__hash__", "__init__",
    "__init_subclass__", "__le__", "__lt__", "__module__", "__ne__", "__new__", "__reduce__", "__reduce_ex__",
    "__repr__", "__setattr__", "__setstate__", "__sizeof__", "__str__", "__subclasshook__", "__weakref__", "_apply",
    "_backward_hooks", "_backward_pre_hooks", "_buffers", "_call_impl", "_compiled_call_impl", "_forward_hooks",
    "_forward_hooks_always_called", "_forward_hooks_with_kwargs", "_forward_pre_hooks",
    "_forward_pre_hooks_with_kwargs", "_get_backward_hooks", "_get_backward_pre_hooks", "_get_name",
    "_is_full_backward_hook", "_load_from_state_dict", "_load_state_dict_post_hooks", "_load_state_dict_pre_hooks",
    "_maybe_warn_non_full_backward_hook", "_modules", "_named_members", "_non_persistent_buffers_set", "_parameters",
    "_register_load_state_dict_pre_hook", "_register_state_dict_hook", "_replicate_for_data_parallel",
    "_save_to_state_dict", "_slow_forward", "_state_dict_hooks", "_state_dict_pre_hooks", "_version",
    "_wrapped_call_impl",
})


def reserved_why(part: str) -> str | None:
    """Why one dotted part of a layer or stage name cannot be used, or None if it can.
    Keywords, builtins and other underscored names can: the emitters map every name
    to a safe identifier (backends/codegen.py) and reach such a module attribute as
    `self._modules["class"]`."""
    if part.isdigit():  # an index in a container (`downsample.0`)
        return None
    if not part.isidentifier():
        return "it is not a Python identifier"
    if part in NN_MODULE_PRIVATE:
        return "it would shadow one of PyTorch's torch.nn.Module internals"
    if part in NN_MODULE_NAMES or part in OWN_NAMES:
        return "it would shadow an attribute of PyTorch's torch.nn.Module"
    return None
