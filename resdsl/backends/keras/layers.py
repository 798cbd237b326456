"""resdsl's Keras classes, registered for saving and loading: importing this
module runs the decorators of keras/extra.py (the layers Keras lacks) and
keras/nesting.py (Block, Stage, Network), which register each class under the
package "resdsl" ("resdsl>ChannelPad"), the names saved files refer to.
`import resdsl` arranges this as soon as Keras is imported (keras/registry.py),
so `keras.saving.load_model` loads a saved resdsl model.

The same classes are copied into every emitted module (which registers its
copies as it runs); either copy loads a saved file.
"""
from __future__ import annotations

from .extra import (
    AttentionPool,
    AvgPool2DPad,
    AxisSoftmax,
    BlurPool2D,
    ChannelConv,
    ChannelPad,
    ChannelSplit,
    ConstantPad2D,
    DilatedConv2D,
    DropPath,
    GlobalAvgMaxPool,
    MaxPool2DCeil,
    StdConv2D,
)
from .nesting import Block, Network, Stage, find_layer, ir_name, no_such_layer

__all__ = ["AttentionPool", "AvgPool2DPad", "AxisSoftmax", "Block", "BlurPool2D", "ChannelConv", "ChannelPad",
           "ChannelSplit", "ConstantPad2D", "DilatedConv2D", "DropPath", "GlobalAvgMaxPool", "MaxPool2DCeil", "Network",
           "Stage", "StdConv2D", "find_layer", "ir_name", "no_such_layer"]
