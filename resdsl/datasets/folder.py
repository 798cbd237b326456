"""A class-per-folder image directory (`DATA/<class>/<image>`), the layout of
torchvision's ImageFolder and Keras' image_dataset_from_directory. With
`train/` and `val/` (or `test/`) subfolders those are the splits; otherwise a
fixed tenth of each class, chosen by a seeded shuffle, is held out."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .common import DataError, Dataset

EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".ppm", ".tif", ".tiff"}
HOLDOUT = 0.1


def _classes(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def _files(root: Path, classes: list[str]) -> list[tuple[Path, int]]:
    out = []
    for label, name in enumerate(classes):
        files = sorted(p for p in (root / name).rglob("*") if p.suffix.lower() in EXTENSIONS and p.is_file())
        out += [(p, label) for p in files]
    return out


def _read(files: list[tuple[Path, int]], size: tuple[int, int] | None, channels: int):
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        raise DataError("reading an image folder needs Pillow", "pip install 'resdsl[train]'") from None
    mode = {1: "L", 3: "RGB", 4: "RGBA"}.get(channels)
    if mode is None:
        raise DataError(f"an image folder gives 1, 3 or 4 channels, not {channels}")
    images, labels = [], []
    for path, label in files:
        try:
            with Image.open(path) as im:
                im = im.convert(mode)
                if size is not None and im.size != (size[1], size[0]):
                    im = im.resize((size[1], size[0]), Image.BILINEAR)
                a = np.asarray(im, dtype=np.uint8)
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            raise DataError(f"{path}: cannot read this image ({exc})", "remove it or replace it") from None
        if images and a.shape != images[0].shape:
            raise DataError(f"{path}: {a.shape[1]}×{a.shape[0]} pixels, but {files[0][0]} has "
                            f"{images[0].shape[1]}×{images[0].shape[0]}",
                            "images of different sizes are resized to the network's input when one is known")
        images.append(a.reshape(a.shape[0], a.shape[1], -1))
        labels.append(label)
    return np.stack(images), np.asarray(labels, dtype=np.int64)


def load_folder(root: Path, size=None, channels: int = 3, seed: int = 0) -> Dataset:
    splits = [s for s in ("train", "val", "test") if (root / s).is_dir()]
    if "train" in splits and len(splits) > 1:
        val = "val" if "val" in splits else "test"
        classes = _classes(root / "train")
        train_files, val_files = _files(root / "train", classes), _files(root / val, classes)
    else:
        classes = _classes(root)
        files = _files(root, classes)
        rng = np.random.default_rng(seed)
        train_files, val_files = [], []
        for label in range(len(classes)):
            mine = [f for f in files if f[1] == label]
            order = rng.permutation(len(mine))
            k = max(1, int(round(HOLDOUT * len(mine)))) if len(mine) > 1 else 0
            val_files += [mine[i] for i in sorted(order[:k])]
            train_files += [mine[i] for i in sorted(order[k:])]
    if len(classes) < 2:
        raise DataError(f"{root}: an image folder needs one sub-folder per class (found {len(classes)})",
                        "lay it out as DATA/<class>/<image>.png")
    if not train_files or not val_files:
        raise DataError(f"{root}: no images found (looked for {', '.join(sorted(EXTENSIONS))})")
    tx, ty = _read(train_files, size, channels)
    vx, vy = _read(val_files, size or tx.shape[1:3], channels)
    return Dataset("folder", str(root), classes, tx, ty, vx, vy).check()
