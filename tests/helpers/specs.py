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


# A user block and two derived from it (`extends`, `insert`, `replace`, `remove`;
# issue 24): tests/core/test_user_blocks.py checks its layers and where each was
# written (its line numbers matter), tests/backends/test_derived_blocks.py that it
# builds what the same blocks written out in full build.
DERIVED_BLOCKS = """\
resdsl: 1
name: ub
input: {height: 32, width: 32, channels: 3}
blocks:
  base:
    params: {k: 3}
    main:
      - conv: {filters: $filters, kernel: $k, stride: $stride, padding: 1, name: conv1}
      - norm: {name: bn1}
      - act: {name: act1}
      - conv: {filters: $filters, kernel: 3, padding: 1, name: conv2}
      - norm: {name: bn2}
    after: [{act: {name: act_out}}]
  with_se:
    extends: base
    params: {k: 5}
    insert:
      - {after: bn2, layers: [{se: {name: se}}]}
      - before: 0
        layers: [{norm: {name: pre}}]
    replace:
      act1: {act: silu}
    main:
      conv1: {padding: 2}
  plain:
    extends: with_se
    remove: [se]
    shortcut: none
stem: [{conv: {filters: 16, kernel: 3, padding: 1}}]
stages:
  - {block: base, filters: 16}
  - {block: with_se, filters: 32, stride: 2}
  - {block: plain, filters: 32}
head: [global_avgpool]
"""


# One small network using every op and field of language v3 (issue 22): channel split and
# concat, softmax across paths and over positions, attention pooling, blur pooling, dilated,
# weight-standardised and biased convs, layer norm, broadcasting multiply, and a ceil-mode
# max pool (issue 24). The torch and Keras v3 tests build it.
ALL_V3_OPS = """\
resdsl: 1
name: all_v3_ops
input: {height: 20, width: 20, channels: 3}
defaults: {conv: {standardize: false}}
blocks:
  mixed:
    main:
      - split: {parts: 2, name: halves}
      - conv: {from: halves.0, filters: $filters, kernel: 3, stride: $stride, padding: 1, name: a}
      - norm: {name: a_bn}
      - conv: {from: halves.1, filters: $filters, kernel: 3, stride: $stride, padding: 2, dilation: 2, name: b}
      - norm: {type: layernorm, eps: 1.0e-6, name: b_ln}
      - add: {with: a_bn, name: sum}
      - global_avgpool: {keepdims: true}
      - conv: {filters: $filters * 2, kernel: 1, bias: true}
      - softmax: {axis: paths, paths: 2}
      - split: {parts: 2, name: w}
      - multiply: {with: a_bn, name: wa}
      - multiply: {from: w.1, with: b_ln, name: wb}
      - add: {with: wa, name: mix}
      - conv: {filters: 1, kernel: 1, bias: true, name: attn}
      - softmax: {axis: spatial}
      - attention_pool: {with: mix, name: ctx}
      - add: {with: mix, name: plus_ctx}
      - concat: {inputs: [plus_ctx, a], name: cat}
      - conv: {filters: $filters, kernel: 1, standardize: true, standardize_eps: 1.0e-8, name: std}
      - norm: {name: std_bn}
    after: [act]
  blur:
    main: [{blur_pool: {stride: $stride, name: aa}}, {conv: {filters: $filters, kernel: 1}}, norm]
stem: [{conv: {filters: 8, kernel: 3, padding: 1}}, norm, act, {maxpool: {size: 3, stride: 2, ceil_mode: true}}]
stages:
  - {filters: 8, blocks: [{block: mixed}, {block: blur, repeat: 2}]}
  - {block: mixed, filters: 16, stride: 2}
head: [global_avgpool, {dense: {units: 3}}]
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
