"""The fsdd source on the real dataset: official split, labels, and the offline message."""

from __future__ import annotations

import shutil

import pytest
import torch

from ganaudio.config import load_recipe
from ganaudio.data import load_dataset
from ganaudio.data import fsdd
from ganaudio.errors import UserError


@pytest.fixture(scope="module")
def fsdd_cache(tmp_path_factory):
    """One feature cache for this module: the real dataset is read once, not per test."""
    return tmp_path_factory.mktemp("fsdd-cache")


def test_official_split_and_labels(fsdd_dir, fsdd_cache, monkeypatch):
    monkeypatch.setenv("GANAUDIO_CACHE", str(fsdd_cache))
    recipe = load_recipe("digits", data_root=str(fsdd_dir))
    train, test = load_dataset(recipe, "train"), load_dataset(recipe, "test")
    assert (len(train), len(test)) == (2700, 300)
    assert train.label_names == [str(d) for d in range(10)]
    assert torch.bincount(test.labels).tolist() == [30] * 10
    assert train.sample_shape == (1, 64, 64)
    assert train.summary.skipped == {} and train.summary.split_counts == {"train": 2700, "test": 300}
    assert train.samples.min() >= -1 and train.samples.max() <= 1
    # the statistics are fitted on the training split: its per-bin mean is near 0 before clipping
    assert abs(float(train.samples.mean())) < 0.2


def test_cached_load_is_fast(fsdd_dir, fsdd_cache, monkeypatch):
    monkeypatch.setenv("GANAUDIO_CACHE", str(fsdd_cache))
    recipe = load_recipe("digits", data_root=str(fsdd_dir))
    load_dataset(recipe)
    assert load_dataset(recipe).from_cache


def test_non_fsdd_names_are_skipped(tmp_path, fsdd_dir):
    for name in ("0_george_0.wav", "1_george_7.wav"):
        shutil.copy(fsdd_dir / name, tmp_path / name)
    shutil.copy(fsdd_dir / "2_theo_9.wav", tmp_path / "mystery.wav")
    recipe = load_recipe("digits", data_root=str(tmp_path))
    train = load_dataset(recipe)
    assert len(train) == 1 and train.summary.skipped == {"not an FSDD file name": [str(tmp_path / "mystery.wav")]}
    assert len(load_dataset(recipe, "test")) == 1


def test_only_test_takes_is_a_clear_error(tmp_path, fsdd_dir):
    shutil.copy(fsdd_dir / "0_george_0.wav", tmp_path / "0_george_0.wav")
    with pytest.raises(UserError, match="no training clips"):
        load_dataset(load_recipe("digits", data_root=str(tmp_path)))


def test_content_checksum_matches_the_pinned_release(fsdd_dir):
    assert fsdd.recordings_checksum(fsdd_dir) == fsdd.RECORDINGS_SHA256


def test_offline_download_says_how_to_point_at_a_local_copy(monkeypatch):
    def refuse(url, timeout):
        raise OSError("network unreachable")

    monkeypatch.setattr("urllib.request.urlopen", refuse)
    with pytest.raises(UserError, match="--data PATH/TO/free-spoken-digit-dataset/recordings") as caught:
        load_dataset(load_recipe("digits"))
    assert "\n" not in str(caught.value)
