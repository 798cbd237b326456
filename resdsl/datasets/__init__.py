"""Data sets for `resdsl train`, framework-free: every loader returns uint8 NHWC
numpy arrays and int64 labels; tensors are made at the framework edge.

`load_dataset(path)` recognises the CIFAR-10 python archive (the .tar.gz or its
extracted folder), the SIGNS HDF5 pair of the deep-learning course (articles
002/004) and a class-per-folder image directory. Every problem with the data is
a DataError naming the file and what was expected, never a traceback.
"""
from __future__ import annotations

from .common import DataError, Dataset
from .load import load_dataset

__all__ = ["DataError", "Dataset", "load_dataset"]
