"""Specs for the tests: shipped ones at a smaller input, an edge-case network, and
emitted modules imported from real files."""
from __future__ import annotations

import importlib.util
import re
import sys

import resdsl
from resdsl.spec.shipped import shipped_path

# User blocks nested in user blocks, a custom shortcut, attributes that differ
# between instances of one block kind (activation, 'same' padding at odd and
# even sizes, zero-init), 60-character layer names.
EDGE = """\
resdsl: 1
name: edge
input: {height: 34, width: 31, channels: 3}
blocks:
  inner:
    params: {k: 3}
    main:
      - conv: {filters: $filters, kernel: $k, stride: $stride, padding: same}
      - norm
      - act
    shortcut: projection
  outer:
    main:
      - block:
          type: inner
          filters: $filters
          stride: $stride
          name: a_rather_long_layer_name_that_still_fits_in_sixty_four_chars
      - zeropad: {padding: [0, 1, 0, 1], name: another_rather_long_layer_name_just_to_make_lines_long_ok}
      - maxpool: {size: 2, stride: 1}
      - block: {type: inner, filters: $filters, name: second, args: {k: 1}}
    shortcut:
      - conv: {filters: $filters, kernel: 1, stride: $stride}
      - norm: {zero_init: true}
    after: [act]
stem:
  - conv: {filters: 8, kernel: 3, padding: same}
stages:
  - {block: outer, filters: 8, repeat: 2, stride: 2, activation: silu}
  - {block: outer, filters: 16, repeat: 2, stride: 2, activation: tanh}
  - {block: basic, filters: 16, repeat: 2, zero_init_last_norm: true, shortcut: identity}
  - {block: basic, filters: 16, repeat: 2, activation: relu6, shortcut: identity}
head: [global_avgpool, {dense: {units: 3, activation: sigmoid}}]
"""


def resolve_small(name: str, size: int = 64):
    """A shipped spec with its ImageNet-sized input (over 128 pixels: 224, and timm's
    native 176 and 160 for resnet10t and resnetrs50) shrunk to size x size: those
    specs' stages and heads do not depend on the input size (global pooling)."""
    text = shipped_path(name).read_text(encoding="utf-8")
    text = re.sub(r"input: \{height: (\d+), width: \d+",
                  lambda m: f"input: {{height: {size}, width: {size}" if int(m[1]) > 128 else m[0], text)
    return resdsl.resolve(text)


def import_file(path, name: str):
    """Import a module from a file, as a user imports an emitted one."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
