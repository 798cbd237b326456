"""The training tests' shared data: one tiny CIFAR-10 archive per session.
The makers and the tiny specs live in train_data.py (a conftest is not importable
by name when several test folders have one)."""
from __future__ import annotations

from pathlib import Path

import pytest
from train_data import make_cifar_archive


@pytest.fixture(scope="session")
def cifar_tgz(tmp_path_factory) -> Path:
    return make_cifar_archive(tmp_path_factory.mktemp("cifar") / "cifar-10-python.tar.gz")
