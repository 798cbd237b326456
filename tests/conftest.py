"""Suite-wide setup.

TensorFlow 2.21 and the Triton that torch 2.14 loads for its compiler stack both
carry their own LLVM; loading Triton after TensorFlow segfaults the process
(seen at collection, when one test module imports keras and a later one
torchvision). Loading torch's compiler stack first avoids it, so do that once,
before any test module is imported.
"""
try:
    import torch._dynamo  # noqa: F401
except ImportError:  # torch is an optional extra; core tests run without it
    pass

import pytest  # noqa: E402  (after the preload above)

from tests.helpers import norms, specs  # noqa: E402


@pytest.fixture(scope="session")
def edge_spec():
    return specs.EDGE


@pytest.fixture(scope="session")
def resolve_small():
    return specs.resolve_small


@pytest.fixture(scope="session")
def import_file():
    return specs.import_file


@pytest.fixture(scope="session")
def randomise_norms():
    return norms.randomise_norms


@pytest.fixture(scope="module")
def one_torch_thread():
    """torch with one thread, for a module's tests: tiny models gain nothing from
    more, and with `pytest -n 2` the threads of two workers (or torch's and
    TensorFlow's pools in one) only fight over the cores."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield torch
    torch.set_num_threads(before)
