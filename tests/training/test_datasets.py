"""The loaders read the real formats (made here, tiny) and refuse bad data with
a located message."""
from __future__ import annotations

import pickle
import tarfile

import numpy as np
import pytest

from resdsl.datasets import DataError, load_dataset
from tests.training.train_data import make_cifar_archive, make_folder, make_signs, toy_images


def test_cifar_archive_and_its_folder_give_the_same_arrays(cifar_tgz, tmp_path):
    d = load_dataset(cifar_tgz)
    assert d.name == "cifar10" and d.train_x.shape == (200, 32, 32, 3) and d.val_x.shape == (40, 32, 32, 3)
    assert d.classes[0] == "airplane" and len(d.classes) == 10
    # channel-major rows turned into HWC: pixel (0,0) of image 0 is rows[0][0], [1024], [2048]
    x, y = toy_images(240, 10)
    assert np.array_equal(d.train_x, x[:200]) and np.array_equal(d.train_y, y[:200])
    with tarfile.open(cifar_tgz) as tar:
        tar.extractall(tmp_path, filter="data")
    e = load_dataset(tmp_path)  # the folder holding cifar-10-batches-py
    assert np.array_equal(e.train_x, d.train_x) and np.array_equal(e.val_y, d.val_y)


def test_signs_pair(tmp_path):
    folder = make_signs(tmp_path / "signs")
    d = load_dataset(folder / "train_signs.h5")
    assert d.name == "signs" and d.train_x.shape == (36, 64, 64, 3) and d.val_x.shape == (12, 64, 64, 3)
    assert d.classes == [str(i) for i in range(6)]
    x, y = toy_images(48, 6, size=64)  # what make_signs wrote: the pixels and labels come back unchanged
    assert np.array_equal(d.train_x, x[:36]) and np.array_equal(d.val_x, x[36:])
    assert np.array_equal(d.train_y, y[:36]) and np.array_equal(d.val_y, y[36:])


def test_image_folder_is_split_and_resized(tmp_path):
    root = make_folder(tmp_path / "imgs", per_class=10, size=20)
    d = load_dataset(root, size=(16, 16))
    assert d.classes == ["cat", "dog", "fish"]
    assert d.train_x.shape == (27, 16, 16, 3) and d.val_x.shape == (3, 16, 16, 3)
    assert sorted(d.val_y.tolist()) == [0, 1, 2]  # a tenth of each class held out


def _error(path, **kw) -> str:
    with pytest.raises(DataError) as e:
        load_dataset(path, **kw)
    return str(e.value)


def test_missing_path(tmp_path):
    assert "no such file or folder" in _error(tmp_path / "nope.tar.gz")


def test_truncated_cifar_archive(cifar_tgz, tmp_path):
    cut = tmp_path / "cifar-10-python.tar.gz"
    cut.write_bytes(cifar_tgz.read_bytes()[: len(cifar_tgz.read_bytes()) // 2])
    msg = _error(cut)
    assert str(cut) in msg and ("cannot read the archive" in msg or "missing" in msg)


def test_cifar_archive_missing_a_batch(tmp_path):
    path = tmp_path / "partial.tar.gz"
    make_cifar_archive(path)
    with tarfile.open(path) as tar:
        members = [(m, tar.extractfile(m).read()) for m in tar if not m.name.endswith("data_batch_3")]
    with tarfile.open(path, "w:gz") as tar:
        for m, raw in members:
            import io
            tar.addfile(m, io.BytesIO(raw))
    assert "missing data_batch_3" in _error(path)


def test_a_pickle_that_runs_code_is_refused(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    evil = pickle.dumps(print)  # any global outside numpy's array reconstruction
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (folder / name).write_bytes(evil)
    assert "refusing to load builtins.print" in _error(tmp_path)


def test_signs_needs_both_files(tmp_path):
    folder = make_signs(tmp_path / "s")
    (folder / "test_signs.h5").unlink()
    assert "test_signs.h5: missing" in _error(folder / "train_signs.h5")


def test_not_hdf5(tmp_path):
    (tmp_path / "train_signs.h5").write_text("hello")
    (tmp_path / "test_signs.h5").write_text("hello")
    assert "cannot read it as HDF5" in _error(tmp_path)


def test_folder_with_one_class_or_a_broken_image(tmp_path):
    root = make_folder(tmp_path / "one", classes=("only",))
    assert "one sub-folder per class" in _error(root)
    root = make_folder(tmp_path / "two", classes=("a", "b"))
    (root / "a" / "bad.png").write_bytes(b"not a png")
    msg = _error(root)
    assert "bad.png: cannot read this image" in msg


def test_unknown_file(tmp_path):
    f = tmp_path / "data.csv"
    f.write_text("1,2,3")
    assert "not a data set resdsl reads" in _error(f)


def test_download_fetches_cifar_into_the_path_and_reports_failure(cifar_tgz, tmp_path, monkeypatch):
    """--download hands torchvision's downloader the official URL and MD5 (faked here: no test downloads),
    then reads what it extracted; a failed download is a DataError with a hint, not a traceback."""
    utils = pytest.importorskip("torchvision.datasets.utils")
    calls = []

    def fake(url, download_root, filename=None, md5=None, **kw):
        calls.append((url, filename, md5))
        with tarfile.open(cifar_tgz) as tar:
            tar.extractall(download_root, filter="data")

    monkeypatch.setattr(utils, "download_and_extract_archive", fake)
    d = load_dataset(tmp_path / "cifar", download=True)
    assert d.name == "cifar10" and d.train_x.shape == (200, 32, 32, 3)
    assert calls == [("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz", "cifar-10-python.tar.gz",
                      "c58f30108f718f92721af3b95e74349a")]

    def offline(*a, **kw):
        raise OSError("no network")

    monkeypatch.setattr(utils, "download_and_extract_archive", offline)
    msg = _error(tmp_path / "elsewhere", download=True)
    assert "cannot download CIFAR-10" in msg and "no network" in msg
