import pytest


@pytest.fixture(scope="module")
def torch(one_torch_thread):
    """torch, with one thread (tests/conftest.py says why)."""
    return one_torch_thread
