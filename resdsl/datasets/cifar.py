"""CIFAR-10 from its standard python archive (`cifar-10-python.tar.gz`, or the
`cifar-10-batches-py` folder it extracts to): five training batches and one
test batch, each a pickled dict of a 10000×3072 uint8 array (channel-major
rows) and a label list.

The batches are pickles, and unpickling runs whatever a file asks for; the
unpickler here only builds the dicts, lists and numpy arrays CIFAR holds, so a
tampered archive is an error, not code execution.
"""
from __future__ import annotations

import io
import pickle
import tarfile
from pathlib import Path

import numpy as np

from .common import DataError, Dataset

TRAIN = [f"data_batch_{i}" for i in range(1, 6)]
TEST = "test_batch"
META = "batches.meta"
FOLDER = "cifar-10-batches-py"
CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
_SAFE = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
         ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
         ("numpy._core.multiarray", "scalar"), ("_codecs", "encode")}


class _CifarUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _SAFE:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def looks_like_cifar(path: Path) -> bool:
    if path.is_dir():
        return (path / TEST).exists() or (path / FOLDER).is_dir()
    return path.name.endswith((".tar.gz", ".tgz", ".tar"))


def _unpickle(raw: bytes, where: str) -> dict:
    try:
        d = _CifarUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except Exception as exc:  # any damage to a pickle surfaces as some exception
        raise DataError(f"{where}: not a CIFAR-10 python batch ({type(exc).__name__}: {exc})",
                        "the file may be truncated; download cifar-10-python.tar.gz again") from None
    if not isinstance(d, dict) or b"data" not in d or b"labels" not in d:
        raise DataError(f"{where}: not a CIFAR-10 python batch (no 'data' and 'labels' entries)",
                        "CIFAR-100 and the binary/Matlab versions are not this format")
    return d


def _batch(raw: bytes, where: str) -> tuple[np.ndarray, np.ndarray]:
    d = _unpickle(raw, where)
    data, labels = np.asarray(d[b"data"]), np.asarray(d[b"labels"], dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(data) != len(labels):
        raise DataError(f"{where}: expected a N×3072 uint8 array and N labels, got {data.shape} {data.dtype} "
                        f"and {len(labels)} labels")
    # rows are 1024 red, 1024 green, 1024 blue values: N×3×32×32 -> N×32×32×3
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).copy(), labels


def _members_from_tar(path: Path) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    try:
        with tarfile.open(path) as tar:
            for m in tar:
                name = m.name.rsplit("/", 1)[-1]
                if m.isfile() and name in (*TRAIN, TEST, META):
                    out[name] = tar.extractfile(m).read()
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read the archive ({exc})",
                        "the download may be truncated; fetch cifar-10-python.tar.gz again") from None
    return out


def _members_from_folder(path: Path) -> dict[str, bytes]:
    if (path / FOLDER).is_dir():
        path = path / FOLDER
    return {n: (path / n).read_bytes() for n in (*TRAIN, TEST, META) if (path / n).is_file()}


def load_cifar10(path: Path) -> Dataset:
    members = _members_from_tar(path) if path.is_file() else _members_from_folder(path)
    missing = [n for n in (*TRAIN, TEST) if n not in members]
    if missing:
        raise DataError(f"{path}: not a complete CIFAR-10 python archive; missing {', '.join(missing)}",
                        "expected cifar-10-python.tar.gz or its cifar-10-batches-py folder")
    xs, ys = zip(*(_batch(members[n], f"{path}:{n}") for n in TRAIN))
    vx, vy = _batch(members[TEST], f"{path}:{TEST}")
    classes = CLASSES
    if META in members:
        names = _unpickle_meta(members[META])
        if names:
            classes = names
    return Dataset("cifar10", str(path), classes, np.concatenate(xs), np.concatenate(ys), vx, vy).check()


def _unpickle_meta(raw: bytes) -> list[str] | None:
    try:
        d = _CifarUnpickler(io.BytesIO(raw), encoding="bytes").load()
        return [n.decode() if isinstance(n, bytes) else str(n) for n in d[b"label_names"]]
    except Exception:  # the names are a nicety; the batches carry the labels
        return None
