"""The SIGNS hand-sign set of articles 002/004: `train_signs.h5` and
`test_signs.h5`, 64×64 RGB pictures of 0-5 raised fingers, as the course ships
them (datasets `train_set_x`, `train_set_y`, `test_set_x`, `test_set_y`,
`list_classes`). DATA is the folder holding both files, or either file."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .common import DataError, Dataset

TRAIN_FILE, TEST_FILE = "train_signs.h5", "test_signs.h5"


def looks_like_signs(path: Path) -> bool:
    if path.is_dir():
        return (path / TRAIN_FILE).exists() or (path / TEST_FILE).exists()
    return path.suffix in (".h5", ".hdf5")


def _pair(path: Path) -> tuple[Path, Path]:
    folder = path if path.is_dir() else path.parent
    train, test = folder / TRAIN_FILE, folder / TEST_FILE
    for p in (train, test):
        if not p.is_file():
            raise DataError(f"{p}: missing; the SIGNS set is a pair of files, {TRAIN_FILE} and {TEST_FILE}",
                            "put both in one folder and give that folder (or either file) as --data")
    return train, test


def _read(path: Path, split: str) -> tuple[np.ndarray, np.ndarray, list]:
    try:
        import h5py
    except ImportError:
        raise DataError("reading the SIGNS HDF5 files needs h5py", "pip install 'resdsl[train]'") from None
    try:
        with h5py.File(path, "r") as f:
            keys = (f"{split}_set_x", f"{split}_set_y")
            missing = [k for k in keys if k not in f]
            if missing:
                raise DataError(f"{path}: no dataset {', '.join(missing)} (it has {', '.join(sorted(f)) or 'none'})",
                                "this is not the SIGNS HDF5 format of articles 002/004")
            x, y = np.asarray(f[keys[0]]), np.asarray(f[keys[1]]).reshape(-1).astype(np.int64)
            classes = list(np.asarray(f["list_classes"]).reshape(-1)) if "list_classes" in f else []
    except OSError as exc:  # h5py's error for a truncated or non-HDF5 file
        raise DataError(f"{path}: cannot read it as HDF5 ({exc})", "the file may be truncated or not HDF5") from None
    if x.ndim != 4 or x.dtype != np.uint8:
        raise DataError(f"{path}: {split}_set_x must be N×H×W×C uint8 pictures, got {x.shape} {x.dtype}")
    return x, y, classes


def load_signs(path: Path) -> Dataset:
    train, test = _pair(path)
    tx, ty, classes = _read(train, "train")
    vx, vy, _ = _read(test, "test")
    n = int(max(ty.max(initial=0), vy.max(initial=0))) + 1
    names = [str(c.decode() if isinstance(c, bytes) else c) for c in classes] if len(classes) >= n else \
        [str(i) for i in range(n)]
    return Dataset("signs", str(train.parent), names, tx, ty, vx, vy).check()
