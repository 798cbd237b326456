"""The Dataset every loader returns, and the error every loader raises."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import DataError

__all__ = ["DataError", "Dataset"]


@dataclass
class Dataset:
    name: str               # 'cifar10', 'signs', 'folder'
    source: str             # the path it was read from
    classes: list[str]
    train_x: np.ndarray     # (N, H, W, C) uint8
    train_y: np.ndarray     # (N,) int64
    val_x: np.ndarray
    val_y: np.ndarray

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(H, W, C)."""
        return tuple(int(d) for d in self.train_x.shape[1:])

    def check(self) -> "Dataset":
        """Shapes and labels agree: a loader bug or a damaged file stops here."""
        for split, x, y in (("training", self.train_x, self.train_y), ("validation", self.val_x, self.val_y)):
            if x.ndim != 4 or x.dtype != np.uint8:
                raise DataError(f"{self.source}: {split} images must be N×H×W×C uint8, got {x.shape} {x.dtype}")
            if len(x) != len(y):
                raise DataError(f"{self.source}: {len(x)} {split} images but {len(y)} labels")
            if len(x) == 0:
                raise DataError(f"{self.source}: the {split} split is empty")
            if y.min() < 0 or y.max() >= len(self.classes):
                raise DataError(f"{self.source}: {split} labels must lie in 0..{len(self.classes) - 1}, "
                                f"found {int(y.min())}..{int(y.max())}")
        if self.train_x.shape[1:] != self.val_x.shape[1:]:
            raise DataError(f"{self.source}: training images are {self.train_x.shape[1:]}, "
                            f"validation images {self.val_x.shape[1:]}")
        return self
