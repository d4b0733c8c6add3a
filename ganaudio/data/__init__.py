"""Data sources -> the training tensors: `load_dataset(recipe)` is the entry point.

Each source (folder, fsdd, synthetic-voice, mnist) lives in its own module and implements
`Source`: the files it reads and the clips or images it gives. `source_for` picks it once from
`data.source`; here the clips become features (normalized log-mels, or pixels in [-1, 1]) with the
feature state fitted on the training split, cached on disk keyed by the file list and the
config. The dataset tells the models its sample shape and labels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from ganaudio.audio import file_seconds
from ganaudio.config import MAX_FRAMES, SIZE_LIMITS, Recipe, recipe_from_dict
from ganaudio.data.cache import cache_file, cache_key, file_fingerprint, load_cached, save_cached
from ganaudio.data.clips import SPLITS, Clips, DataSummary
from ganaudio.data.folder import FolderSource
from ganaudio.data.fsdd import FsddSource
from ganaudio.data.mnist import Images, MnistSource
from ganaudio.data.synthetic_voice import SyntheticVoiceSource
from ganaudio.errors import UserError
from ganaudio.features import MelFeatures, encode_images, fit_statistics

__all__ = ["Dataset", "DataSummary", "Source", "load_dataset", "mel_features", "read_audio_clips",
           "recipe_fingerprint", "resolve_clip_seconds", "source_for"]

AUTO_CLIP_PERCENTILE = 90  # features.clip_seconds: auto holds this share of the files whole
AUTO_CLIP_FRAME_MULTIPLE = 16  # frames a multiple of 2**4: four halvings for the networks


class Source(Protocol):
    """One kind of data (`data.source`), built from a recipe. Audio sources read Clips:
    levelled mono waveforms of the recipe's rate and length, each with its label and split.
    Image sources read Images. Formats and alignment live in the reading (data/clips.py)."""

    labelled: bool  # whether its clips carry labels (evaluation needs them)

    def files(self) -> list[Path]:
        """The files it reads, whose sizes and times key the feature cache; [] when generated."""

    def read(self) -> Clips | Images:
        """Every clip (or image) with labels, label names, splits and a summary."""


SOURCES: dict[str, type] = {"folder": FolderSource, "fsdd": FsddSource, "synthetic-voice": SyntheticVoiceSource,
                            "mnist": MnistSource}


def source_for(recipe: Recipe) -> Source:
    """The recipe's data source: picked here, once."""
    return SOURCES[recipe.data.source](recipe)


@dataclass
class Dataset(torch.utils.data.Dataset):
    """One split of a recipe's data as model-ready tensors; items are (sample, label)."""

    samples: torch.Tensor  # (n, 1, height, width) float32 in [-1, 1]
    labels: torch.Tensor  # (n,) int64; all 0 for unlabelled data
    label_names: list[str]  # empty for unlabelled data
    split: str
    summary: DataSummary
    feature_state: dict[str, torch.Tensor] = field(default_factory=dict)  # empty for images
    from_cache: bool = False

    @property
    def sample_shape(self) -> tuple[int, int, int]:
        """(channels, height, width) of one sample: what the models are sized from."""
        return tuple(self.samples.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.label_names)

    def __len__(self) -> int:
        return self.samples.shape[0]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.samples[index], self.labels[index]


def resolve_clip_seconds(recipe: Recipe) -> Recipe:
    """The recipe with `features.clip_seconds: auto` replaced by a length its files decide: the
    90th percentile of their durations (read from the headers), rounded up to a multiple of 16
    frames. A recipe with a length in seconds comes back as it is. Call it once, before training:
    the checkpoint keeps the number, so synthesis makes clips of the length the model learned."""
    features = recipe.features
    if recipe.data.is_images or features.clip_seconds != "auto":
        return recipe
    durations = [s for s in map(file_seconds, source_for(recipe).files()) if s is not None]
    if not durations:
        raise UserError(f"features.clip_seconds: auto takes the length from the data's audio files, and "
                        f"{recipe.data.root or recipe.data.source} has none ganaudio can read; give seconds")
    seconds = float(np.percentile(durations, AUTO_CLIP_PERCENTILE))
    frames = AUTO_CLIP_FRAME_MULTIPLE * max(1, math.ceil(
        seconds * features.sample_rate / features.hop_length / AUTO_CLIP_FRAME_MULTIPLE))
    longest = min(SIZE_LIMITS["features.clip_seconds"], MAX_FRAMES * features.hop_length / features.sample_rate)
    if frames * features.hop_length / features.sample_rate > longest:
        raise UserError(f"features.clip_seconds: auto found {seconds:.1f} s at the {AUTO_CLIP_PERCENTILE}th percentile "
                        f"of {len(durations)} files, longer than ganaudio trains on ({longest:.1f} s at hop_length "
                        f"{features.hop_length}); give seconds (and cut long recordings into clips)")
    raw = recipe.to_dict()
    raw["features"]["clip_seconds"] = frames * features.hop_length / features.sample_rate
    return recipe_from_dict(raw, name=recipe.name)


def load_dataset(recipe: Recipe, split: str = "train") -> Dataset:
    """Features of one split of the recipe's data, from the cache when nothing changed
    (`features.clip_seconds: auto` is resolved from the files first)."""
    recipe = resolve_clip_seconds(recipe)
    if split not in SPLITS:
        raise UserError(f"split: must be one of {', '.join(SPLITS)}, got {split!r}")
    path = cache_file(recipe.data, cache_key(recipe.data, recipe.features, recipe_fingerprint(recipe)))
    payload = load_cached(path)
    from_cache = payload is not None
    if payload is None:
        payload = _build_features(recipe)
        save_cached(path, payload)
    mask = payload["is_train"] if split == "train" else ~payload["is_train"]
    if not bool(mask.any()):
        raise UserError(f"data.source: '{recipe.data.source}' has no {split} split "
                        f"({recipe.data.root or 'built-in data'})")
    return Dataset(samples=payload["samples"][mask], labels=payload["labels"][mask],
                   label_names=list(payload["label_names"]), split=split,
                   summary=DataSummary.from_dict(payload["summary"]),
                   feature_state=dict(payload["feature_state"]), from_cache=from_cache)


def mel_features(recipe: Recipe, dataset: Dataset) -> MelFeatures:
    """The MelFeatures that decode this dataset's (or its generator's) samples."""
    return MelFeatures.from_state_dict(resolve_clip_seconds(recipe).features, dataset.feature_state)


def recipe_fingerprint(recipe: Recipe) -> list:
    """The files a recipe reads (with sizes and times); generated data is decided by config alone."""
    return file_fingerprint(source_for(recipe).files())


def _build_features(recipe: Recipe) -> dict:
    source = source_for(recipe)
    if recipe.data.is_images:
        images = source.read()
        return _payload(encode_images(images.pixels), images.labels, images.label_names,
                        images.splits, images.summary, feature_state={})
    clips = source.read()
    features = MelFeatures(recipe.features)
    log_mels = features.log_mel(clips.waveforms)  # once for all clips: fitting reuses the train rows
    is_train = torch.tensor([s == "train" for s in clips.splits])
    if not bool(is_train.any()):
        raise UserError(f"data.source: '{recipe.data.source}' found no training clips to fit the "
                        f"feature statistics on ({recipe.data.root or 'built-in data'})")
    features.statistics = fit_statistics(log_mels[is_train])
    return _payload(features.normalize(log_mels), clips.labels, clips.label_names,
                    clips.splits, clips.summary, feature_state=features.state_dict())


def read_audio_clips(recipe: Recipe) -> Clips:
    """Every clip of an audio recipe's data as levelled waveforms of the clip length, with
    labels and splits (the evaluation classifier listens to these)."""
    if recipe.data.is_images:
        raise UserError(f"data.source: '{recipe.data.source}' holds images, not audio clips")
    return source_for(resolve_clip_seconds(recipe)).read()


def _payload(samples: torch.Tensor, labels: torch.Tensor, label_names: list[str], splits: list[str],
             summary: DataSummary, feature_state: dict[str, torch.Tensor]) -> dict:
    return {"samples": samples.float().contiguous(), "labels": labels, "label_names": label_names,
            "is_train": torch.tensor([s == "train" for s in splits]),
            "summary": summary.to_dict(), "feature_state": feature_state}
