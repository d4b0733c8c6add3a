"""Data source `mnist`: handwritten digits from the standard IDX files (gzipped or not).

With both the training and the test files present, they are the train and test splits.
With only the 10,000-image test files (as in ../shared/data/mnist), the first 8,000 images
train and the last 2,000 are held out. Without `data.root` the standard files are downloaded
into the cache folder and checked by md5.
"""

from __future__ import annotations

import gzip
import struct
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ganaudio.config import DataConfig, Recipe
from ganaudio.data.cache import cache_root
from ganaudio.data.clips import DataSummary
from ganaudio.data.download import download
from ganaudio.data.folder import existing_root
from ganaudio.errors import UserError

MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/")
FILES = {  # name -> md5 of the .gz as published
    "train-images-idx3-ubyte": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte": "ec29112dd5afa0611ce80d1b7f02629c",
}
TEST_ONLY_TRAIN_IMAGES = 8000  # with only the test files: 8,000 train, 2,000 held out
IDX_IMAGES, IDX_LABELS = 0x00000803, 0x00000801


@dataclass
class Images:
    """Images of one source: uint8 pixels, labels and per-image split."""

    pixels: torch.Tensor  # (images, height, width) uint8
    labels: torch.Tensor  # (images,) int64
    label_names: list[str]
    splits: list[str]
    summary: DataSummary


class MnistSource:
    """The mnist source (see ganaudio.data.Source): images, not clips."""

    labelled = True

    def __init__(self, recipe: Recipe):
        self.recipe = recipe

    def files(self) -> list[Path]:
        return mnist_files(mnist_folder(self.recipe.data))

    def read(self) -> Images:
        return load_mnist(self.recipe.data)


def mnist_folder(data: DataConfig) -> Path:
    """data.root, or the downloaded copy when it is not set."""
    return existing_root(data) if data.root else downloaded_mnist(data)


def load_mnist(data: DataConfig) -> Images:
    root = mnist_folder(data)
    parts = {prefix: _read_pair(root, prefix) for prefix in ("train", "t10k")}
    parts = {k: v for k, v in parts.items() if v is not None}
    if not parts:
        raise UserError(f"{root}: no MNIST files (t10k-images-idx3-ubyte[.gz] and t10k-labels-idx1-ubyte[.gz])")
    if "train" in parts:
        train_pixels, train_labels = parts["train"]
        test_pixels, test_labels = parts.get("t10k", (train_pixels[:0], train_labels[:0]))
        pixels = np.concatenate([train_pixels, test_pixels])
        labels = np.concatenate([train_labels, test_labels])
        splits = ["train"] * len(train_labels) + ["test"] * len(test_labels)
    else:
        pixels, labels = parts["t10k"]
        splits = ["train"] * min(TEST_ONLY_TRAIN_IMAGES, len(labels))
        splits += ["test"] * (len(labels) - len(splits))
    summary = DataSummary(source="mnist", found=len(labels), used=len(labels),
                          label_counts={str(k): v for k, v in sorted(Counter(labels.tolist()).items())},
                          split_counts=dict(Counter(splits)))
    return Images(pixels=torch.from_numpy(pixels.copy()), labels=torch.from_numpy(labels.astype(np.int64)),
                  label_names=[str(i) for i in range(10)], splits=splits, summary=summary)


def mnist_files(root: Path) -> list[Path]:
    """The IDX files present under root (for the cache fingerprint)."""
    return sorted(p for name in FILES for p in (root / name, root / f"{name}.gz") if p.is_file())


def _read_pair(root: Path, prefix: str) -> tuple[np.ndarray, np.ndarray] | None:
    images = _find(root, f"{prefix}-images-idx3-ubyte")
    labels = _find(root, f"{prefix}-labels-idx1-ubyte")
    if images is None or labels is None:
        return None
    pixels, targets = read_idx(images, IDX_IMAGES), read_idx(labels, IDX_LABELS)
    if len(pixels) != len(targets):
        raise UserError(f"{images}: {len(pixels)} images but {labels.name} has {len(targets)} labels")
    return pixels, targets


def _find(root: Path, name: str) -> Path | None:
    for candidate in (root / name, root / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def read_idx(path: Path, magic: int) -> np.ndarray:
    """Parse an IDX file of unsigned bytes. The format is a 4-byte magic, big-endian dimension
    sizes and raw data: simpler to read here than to depend on torchvision for it."""
    try:
        raw = (gzip.open if path.suffix == ".gz" else open)(path, "rb").read()
    except (OSError, EOFError, gzip.BadGzipFile) as err:
        raise UserError(f"{path}: unreadable ({err})") from None
    if len(raw) < 8 or struct.unpack(">I", raw[:4])[0] != magic:
        raise UserError(f"{path}: not an IDX file of the expected kind")
    ndim = magic & 0xFF
    shape = struct.unpack(f">{ndim}I", raw[4: 4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise UserError(f"{path}: truncated ({data.size} of {int(np.prod(shape))} bytes)")
    return data.reshape(shape)


def downloaded_mnist(data: DataConfig) -> Path:
    target = cache_root(data) / "mnist"
    for name, md5 in FILES.items():
        if _find(target, name) is None:
            download([m + f"{name}.gz" for m in MIRRORS], target / f"{name}.gz", md5=md5,
                     what=f"MNIST {name}", local_hint="--data PATH/TO/mnist (the IDX files)")
    return target
