"""The training tests' shared data: one tiny CIFAR-10 archive per session.
The makers and the tiny specs live in train_data.py (a plain module, which
bench/gpu_check.py imports too)."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.training.train_data import make_cifar_archive


@pytest.fixture(scope="session")
def cifar_tgz(tmp_path_factory) -> Path:
    return make_cifar_archive(tmp_path_factory.mktemp("cifar") / "cifar-10-python.tar.gz")
