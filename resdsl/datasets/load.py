"""Which format a path holds, and loading it."""
from __future__ import annotations

from pathlib import Path

from .cifar import load_cifar10, looks_like_cifar
from .common import DataError, Dataset
from .folder import load_folder
from .signs import load_signs, looks_like_signs


def load_dataset(path, size: tuple[int, int] | None = None, channels: int = 3, download: bool = False) -> Dataset:
    """Load CIFAR-10 (archive or folder), the SIGNS HDF5 pair, or an image folder.

    `size` (H, W) and `channels` only shape an image folder's pictures; the
    other formats have fixed ones, checked against the network by the trainer.
    With `download`, a missing CIFAR-10 path is fetched by torchvision."""
    p = Path(path).expanduser()
    if download and not p.exists():
        _download_cifar10(p)
    if not p.exists():
        raise DataError(f"{path}: no such file or folder",
                        "give the CIFAR-10 archive, the SIGNS folder or an image folder; "
                        "--download fetches CIFAR-10 where a network exists")
    if looks_like_signs(p):
        return load_signs(p)
    if looks_like_cifar(p):
        return load_cifar10(p)
    if p.is_dir():
        return load_folder(p, size=size, channels=channels)
    raise DataError(f"{path}: not a data set resdsl reads",
                    "expected cifar-10-python.tar.gz (or its folder), train_signs.h5/test_signs.h5, "
                    "or a folder of class folders")


def _download_cifar10(p: Path) -> None:
    try:
        from torchvision.datasets.utils import download_and_extract_archive
    except ImportError:
        raise DataError("--download needs torchvision", "pip install 'resdsl[torch]'") from None
    url = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    try:  # torchvision checks the archive's MD5 before extracting it
        download_and_extract_archive(url, str(p), filename="cifar-10-python.tar.gz",
                                     md5="c58f30108f718f92721af3b95e74349a")
    except Exception as exc:  # no network, a proxy, a full disk: all end the same way for the user
        raise DataError(f"cannot download CIFAR-10 into {p} ({exc})",
                        "download cifar-10-python.tar.gz by hand and give its path") from None
