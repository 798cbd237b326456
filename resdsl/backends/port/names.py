"""keras.applications' layer names for resdsl's structural names, so weights
of `keras.applications.ResNet50` (and 101/152, V2) port into the resdsl build
of resnet50_keras (resnet50v2, ...). The shipped *_keras / *v2 specs already
name their stem and head layers as keras.applications does (conv1_conv,
post_bn, predictions); only block layers differ:
`conv3.1.bn2` <-> `conv3_block2_2_bn`, `conv3.0.downsample.0` <-> `conv3_block1_0_conv`.
"""
from __future__ import annotations

import re

_LOCAL = {"conv1": "1_conv", "bn1": "1_bn", "conv2": "2_conv", "bn2": "2_bn", "conv3": "3_conv",
          "bn3": "3_bn", "downsample.0": "0_conv", "downsample.1": "0_bn", "preact_bn": "preact_bn"}
_BLOCK = re.compile(r"^(conv\d+)\.(\d+)\.(.+)$")


def applications_name(name: str) -> str | None:
    """The keras.applications name of a resdsl layer, or None if it has none."""
    m = _BLOCK.match(name)
    if not m or m.group(3) not in _LOCAL:
        return None
    return f"{m.group(1)}_block{int(m.group(2)) + 1}_{_LOCAL[m.group(3)]}"
