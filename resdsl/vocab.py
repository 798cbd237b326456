"""The names the language and the tools share, each listed once.

The spec models (what a spec may say), the IR (what it lowers), the backends
(what they build), the CLI (its choices) and the docs tests all read these
tuples, so a new name is added in one place. This module imports nothing, so
every layer may use it.
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
