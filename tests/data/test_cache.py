"""The feature cache: used on the second run, rebuilt when a file or the config changes."""

from __future__ import annotations

import os

import torch

from ganaudio.config import recipe_from_dict
from ganaudio.data import load_dataset
from ganaudio.data.cache import cache_root
from tests.helpers import tone, write_wav

FEATURES = {"sample_rate": 8000, "clip_seconds": 0.512, "n_fft": 256, "hop_length": 64, "n_mels": 32}


def recipe(root, **features):
    return recipe_from_dict({"data": {"source": "folder", "root": str(root)}, "features": {**FEATURES, **features}})


def test_second_load_comes_from_cache_and_is_identical(labelled_folder):
    first = load_dataset(recipe(labelled_folder))
    second = load_dataset(recipe(labelled_folder))
    assert not first.from_cache and second.from_cache
    assert torch.equal(first.samples, second.samples)
    assert second.summary == first.summary


def test_changed_file_rebuilds(labelled_folder):
    load_dataset(recipe(labelled_folder))
    victim = next(labelled_folder.rglob("*.wav"))
    write_wav(victim, tone(0.4, 8000, freq=3000.0))
    os.utime(victim, ns=(1, 1))  # a different mtime even on coarse file systems
    assert not load_dataset(recipe(labelled_folder)).from_cache


def test_added_file_and_changed_config_rebuild(labelled_folder):
    load_dataset(recipe(labelled_folder))
    assert not load_dataset(recipe(labelled_folder, n_mels=16)).from_cache
    write_wav(labelled_folder / "low" / "extra.wav", tone(0.3, 8000))
    rebuilt = load_dataset(recipe(labelled_folder))
    assert not rebuilt.from_cache and len(rebuilt) == 7


def test_corrupt_cache_file_is_rebuilt_not_fatal(labelled_folder):
    config = recipe(labelled_folder)
    load_dataset(config)
    for path in (cache_root(config.data) / "features").glob("*.pt"):
        path.write_bytes(b"garbage")
    assert not load_dataset(config).from_cache
    assert not list((cache_root(config.data) / "features").glob(".*tmp"))  # nothing half-written left
