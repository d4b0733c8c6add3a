"""load_dataset on the built-in synthetic voice corpus: the recipe that needs no data."""

from __future__ import annotations

import torch

from ganaudio.config import load_recipe
from ganaudio.data import load_dataset, mel_features


def small_voice_recipe():
    return load_recipe("voice", ["data.num_clips=40"])


def test_voice_recipe_needs_no_data_and_holds_out_every_tenth_clip():
    recipe = small_voice_recipe()
    train, test = load_dataset(recipe), load_dataset(recipe, "test")
    assert (len(train), len(test)) == (36, 4)
    assert train.label_names == ["a", "e", "i", "o", "u"]
    assert train.sample_shape == (1, 64, 64)
    assert isinstance(train, torch.utils.data.Dataset) and train[0][0].shape == (1, 64, 64)


def test_voice_corpus_is_repeatable_from_its_seed(isolated_cache, tmp_path, monkeypatch):
    first = load_dataset(small_voice_recipe()).samples
    monkeypatch.setenv("GANAUDIO_CACHE", str(tmp_path / "other-cache"))
    assert torch.equal(first, load_dataset(small_voice_recipe()).samples)
    other_seed = load_dataset(load_recipe("voice", ["data.num_clips=40", "data.seed=1"])).samples
    assert not torch.equal(first, other_seed)


def test_mel_features_decode_dataset_samples_to_audio():
    recipe = small_voice_recipe()
    train = load_dataset(recipe)
    audio = mel_features(recipe, train).decode(train.samples[:2], n_iter=4)
    assert audio.shape == (2, recipe.features.clip_samples) and audio.abs().max() > 0.01
