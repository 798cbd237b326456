"""Tiny data sets in the real formats, made here (no test downloads anything):
a CIFAR-10 python archive, a SIGNS HDF5 pair and a class-per-folder directory.

The images are learnable: each class is a constant colour plus noise, so a few
steps of training must lower the loss."""
from __future__ import annotations

import io
import pickle
import tarfile
from pathlib import Path

import numpy as np


def toy_images(n: int, classes: int, size: int = 32, channels: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    rng.shuffle(y)
    base = np.linspace(30, 225, classes)[y][:, None, None, None]
    tint = (np.arange(channels) * 40 * (y[:, None] % 2)).reshape(n, 1, 1, channels)
    x = base + tint + rng.normal(0, 20, (n, size, size, channels))
    return np.clip(x, 0, 255).astype(np.uint8), y.astype(np.int64)


def _batch_bytes(x: np.ndarray, y: np.ndarray, label: str) -> bytes:
    rows = x.transpose(0, 3, 1, 2).reshape(len(x), -1)  # CIFAR rows: all red, then green, then blue
    return pickle.dumps({b"batch_label": label.encode(), b"labels": y.tolist(), b"data": rows,
                         b"filenames": [f"{i}.png".encode() for i in range(len(x))]}, protocol=2)


def make_cifar_archive(path: Path, per_batch: int = 40, test: int = 40, seed: int = 0) -> Path:
    x, y = toy_images(per_batch * 5 + test, 10, seed=seed)
    members = {f"data_batch_{i + 1}": _batch_bytes(x[i * per_batch:(i + 1) * per_batch],
                                                   y[i * per_batch:(i + 1) * per_batch], f"training batch {i + 1}")
               for i in range(5)}
    members["test_batch"] = _batch_bytes(x[-test:], y[-test:], "testing batch 1")
    members["batches.meta"] = pickle.dumps({b"label_names": [c.encode() for c in
                                            ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog",
                                             "horse", "ship", "truck"]]}, protocol=2)
    with tarfile.open(path, "w:gz") as tar:
        for name, raw in members.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return path


def make_signs(folder: Path, train: int = 36, test: int = 12) -> Path:
    import h5py
    folder.mkdir(parents=True, exist_ok=True)
    x, y = toy_images(train + test, 6, size=64)
    with h5py.File(folder / "train_signs.h5", "w") as f:
        f["train_set_x"], f["train_set_y"] = x[:train], y[:train]
        f["list_classes"] = np.arange(6)
    with h5py.File(folder / "test_signs.h5", "w") as f:
        f["test_set_x"], f["test_set_y"] = x[train:], y[train:]
        f["list_classes"] = np.arange(6)
    return folder


def make_folder(root: Path, per_class: int = 10, classes=("cat", "dog", "fish"), size: int = 20) -> Path:
    from PIL import Image
    x, y = toy_images(per_class * len(classes), len(classes), size=size)
    for i, (img, label) in enumerate(zip(x, y)):
        d = root / classes[label]
        d.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(d / f"{i}.png")
    return root


# A small network that learns the toy task in a few steps: CIFAR-shaped input,
# two residual stages of one basic block, 10 classes.
TINY = """
resdsl: 1
name: tiny
input: {height: 32, width: 32, channels: 3}
stem: [{conv: {filters: 8, kernel: 3, padding: 1}}, norm, act]
stages:
  - {block: basic, filters: 8, repeat: 1}
  - {block: basic, filters: 16, repeat: 1, stride: 2}
head: [global_avgpool, {dense: {units: 10}}]
"""

# The same without BatchNorm, for comparing data-parallel with one process:
# DDP keeps BatchNorm statistics per process, so only a norm-free network has
# the same update whatever the split.
TINY_NO_NORM = """
resdsl: 1
name: tiny_nonorm
input: {height: 32, width: 32, channels: 3}
blocks:
  residual:
    main:
      - conv: {filters: $filters, kernel: 3, padding: 1}
      - act
      - conv: {filters: $filters, kernel: 3, padding: 1}
    shortcut: identity
    after: [act]
stem: [{conv: {filters: 8, kernel: 3, stride: 2, padding: 1}}, act]
stages:
  - {block: residual, filters: 8, repeat: 1}
head: [global_avgpool, {dense: {units: 10}}]
"""
