import pytest


@pytest.fixture(scope="module")
def torch():
    """torch with one thread: tiny models gain nothing from more, and with
    `pytest -n 2` the threads of two workers only fight over the cores."""
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield torch
    torch.set_num_threads(threads)
