import pytest

TINY = """\
resdsl: 1
name: tiny
description: a small test network
input: {height: 32, width: 32, channels: 3}
stem:
  - conv: {filters: 16, kernel: 3, padding: 1}
  - norm
  - act
stages:
  - {block: basic, filters: 16, repeat: 2}
  - {block: basic, filters: 32, repeat: 2, stride: 2}
head:
  - global_avgpool
  - dense: {units: 10}
"""


@pytest.fixture
def tiny_text():
    return TINY
