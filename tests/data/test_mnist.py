"""The mnist source: IDX files, the 8,000/2,000 split of the test set, and bad files."""

from __future__ import annotations

import gzip
import shutil

import pytest
import torch

from ganaudio.config import load_recipe
from ganaudio.data import load_dataset
from ganaudio.errors import UserError


def test_real_mnist_test_set_splits_8000_2000(mnist_dir):
    recipe = load_recipe("mnist", data_root=str(mnist_dir))
    train, test = load_dataset(recipe, "train"), load_dataset(recipe, "test")
    assert (len(train), len(test)) == (8000, 2000)
    assert train.sample_shape == (1, 28, 28) and train.label_names == [str(d) for d in range(10)]
    assert train.samples.min() == -1 and train.samples.max() == 1
    assert torch.bincount(train.labels).min() > 600  # every digit well represented


def test_uncompressed_files_are_read_too(tmp_path, mnist_dir):
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        with gzip.open(mnist_dir / f"{name}.gz") as src, open(tmp_path / name, "wb") as dst:
            shutil.copyfileobj(src, dst)
    assert len(load_dataset(load_recipe("mnist", data_root=str(tmp_path)))) == 8000


def test_truncated_and_missing_files_are_user_errors(tmp_path, mnist_dir):
    with pytest.raises(UserError, match="no MNIST files"):
        load_dataset(load_recipe("mnist", data_root=str(tmp_path)))
    raw = gzip.open(mnist_dir / "t10k-images-idx3-ubyte.gz").read()
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(raw[:5000])
    shutil.copy(mnist_dir / "t10k-labels-idx1-ubyte.gz", tmp_path)
    with pytest.raises(UserError, match="t10k-images-idx3-ubyte: truncated"):
        load_dataset(load_recipe("mnist", data_root=str(tmp_path)))


def test_offline_download_message(monkeypatch):
    monkeypatch.setattr("urllib.request.urlopen", lambda url, timeout: (_ for _ in ()).throw(OSError("offline")))
    with pytest.raises(UserError, match=r"--data PATH/TO/mnist"):
        load_dataset(load_recipe("mnist"))
