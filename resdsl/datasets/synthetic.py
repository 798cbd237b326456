"""A generated CIFAR-shaped data set, written as a real CIFAR-10 python archive,
for trying `resdsl train` / `compare` and for benchmarks without the real
download. Each class is a colour plus noise: learnable in a few epochs, and
nothing like the real task, so its accuracies say nothing about CIFAR-10."""
from __future__ import annotations

import io
import pickle
import tarfile
from pathlib import Path

import numpy as np

from .cifar import CLASSES, FOLDER, TEST, TRAIN


def toy_cifar(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n)
    colours = rng.integers(40, 216, (10, 3))
    x = colours[y][:, None, None, :] + rng.normal(0, 40, (n, 32, 32, 3))
    return np.clip(x, 0, 255).astype(np.uint8), y.astype(np.int64)


def write_cifar_archive(path, train: int = 5000, test: int = 1000, seed: int = 0) -> Path:
    """`train` images over the five training batches, `test` in the test batch."""
    x, y = toy_cifar(train + test, seed)
    cuts = np.linspace(0, train, 6).astype(int)
    parts = {name: (x[a:b], y[a:b]) for name, a, b in zip(TRAIN, cuts[:-1], cuts[1:])}
    parts[TEST] = (x[train:], y[train:])
    path = Path(path)
    with tarfile.open(path, "w:gz") as tar:
        def add(name: str, obj) -> None:
            raw = pickle.dumps(obj, protocol=2)
            info = tarfile.TarInfo(f"{FOLDER}/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
        for name, (px, py) in parts.items():
            add(name, {b"labels": py.tolist(), b"data": px.transpose(0, 3, 1, 2).reshape(len(px), -1)})
        add("batches.meta", {b"label_names": [c.encode() for c in CLASSES]})
    return path
