"""Data sets for `resdsl train`, framework-free: every loader returns uint8 NHWC
numpy arrays and int64 labels; tensors are made at the framework edge.

`load_dataset(path)` recognises the CIFAR-10 python archive (the .tar.gz or its
extracted folder), the SIGNS HDF5 pair of the deep-learning course (articles
002/004) and a class-per-folder image directory. Every problem with the data is
a DataError naming the file and what was expected, never a traceback.
"""
from __future__ import annotations

from .errors import DataError

__all__ = ["DataError", "Dataset", "load_dataset"]


def __getattr__(name):  # numpy loads with the loaders, not with the error class the CLI catches
    if name == "Dataset":
        from .common import Dataset
        return Dataset
    if name == "load_dataset":
        from .load import load_dataset
        return load_dataset
    raise AttributeError(name)
