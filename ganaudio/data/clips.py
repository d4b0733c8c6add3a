"""Audio files -> fixed-length mono clips: the reading step shared by the folder and fsdd
sources, with the bookkeeping behind the dataset summary (what was used, cropped, skipped).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ganaudio.audio import BadAudioFile, fit_length, normalize_level, read_audio, resample
from ganaudio.config import DataConfig, FeatureConfig
from ganaudio.errors import UserError

SPLITS = ("train", "test")


@dataclass(frozen=True)
class ClipFile:
    """One file a source wants read, with its label and split."""

    path: Path
    label: str | None
    split: str = "train"


@dataclass
class DataSummary:
    """What a source found and did: printed by `ganaudio features`, stored in the cache."""

    source: str
    found: int = 0  # candidate files (or generated clips)
    used: int = 0
    label_counts: dict[str, int] = field(default_factory=dict)
    split_counts: dict[str, int] = field(default_factory=dict)
    durations: tuple[float, float, float] = (0.0, 0.0, 0.0)  # seconds: min, median, max
    cropped: int = 0  # clips whose sound was longer than the clip length
    cut_seconds: tuple[float, float] = (0.0, 0.0)  # of the cropped clips: median and most sound cut off
    skipped: dict[str, list[str]] = field(default_factory=dict)  # reason -> files

    def skip(self, path: str, reason: str) -> None:
        self.skipped.setdefault(reason, []).append(path)

    def lines(self) -> list[str]:
        """Human-readable summary, one fact a line."""
        out = [f"source: {self.source}", f"clips: {self.used} used of {self.found} found"]
        if self.split_counts:
            out.append("splits: " + ", ".join(f"{k} {v}" for k, v in self.split_counts.items()))
        if self.label_counts:
            out.append(f"labels ({len(self.label_counts)}): "
                       + ", ".join(f"{k} {v}" for k, v in self.label_counts.items()))
        if self.durations[2] > 0:
            low, median, high = self.durations
            out.append(f"duration: {low:.2f}-{high:.2f} s (median {median:.2f} s)")
            cut = (f" (sound cut off: median {self.cut_seconds[0]:.2f} s, at most {self.cut_seconds[1]:.2f} s)"
                   if self.cropped else "")
            out.append(f"cropped: {self.cropped} clips longer than the clip length{cut}")
        skipped = sum(len(v) for v in self.skipped.values())
        out.append(f"skipped: {skipped}")
        for reason, paths in sorted(self.skipped.items()):
            examples = ", ".join(paths[:3]) + (", ..." if len(paths) > 3 else "")
            out.append(f"  {reason}: {len(paths)} ({examples})")
        return out

    def to_dict(self) -> dict:
        return {"source": self.source, "found": self.found, "used": self.used,
                "label_counts": dict(self.label_counts), "split_counts": dict(self.split_counts),
                "durations": list(self.durations), "cropped": self.cropped,
                "cut_seconds": list(self.cut_seconds),
                "skipped": {k: list(v) for k, v in self.skipped.items()}}

    @classmethod
    def from_dict(cls, raw: dict) -> "DataSummary":
        return cls(**{**raw, "durations": tuple(raw["durations"]), "cut_seconds": tuple(raw["cut_seconds"])})


@dataclass
class Clips:
    """Fixed-length mono waveforms of one source, before features."""

    waveforms: torch.Tensor  # (clips, samples) float32
    labels: torch.Tensor  # (clips,) int64 index into label_names; all 0 when unlabelled
    label_names: list[str]  # empty for unlabelled data
    splits: list[str]  # per clip: "train" or "test"
    summary: DataSummary


def read_clip_files(files: list[ClipFile], data: DataConfig, features: FeatureConfig,
                    summary: DataSummary) -> Clips:
    """Read, mix down, resample, level and crop/pad (as data.align says) every file into one tensor.

    Bad files are skipped and counted (`data.on_bad_file: skip`) or stop the run (`error`).
    """
    waveforms, kept, durations, cuts = [], [], [], []
    for clip_file in tqdm(files, desc="reading audio", unit="file", leave=False, disable=len(files) < 200):
        try:
            samples, rate = read_audio(clip_file.path)
            waveform, cut = _fitted_clip(clip_file.path, samples, rate, data, features)
        except BadAudioFile as bad:
            if data.on_bad_file == "error":
                raise
            summary.skip(str(clip_file.path), bad.reason)
            continue
        durations.append(len(samples) / rate)
        if cut:
            cuts.append(cut / features.sample_rate)
        waveforms.append(normalize_level(waveform, data.normalize, data.peak_db, data.rms_db))
        kept.append(clip_file)
    if not kept:
        raise UserError(f"{data.root or data.source}: none of the {len(files)} audio files could be used "
                        f"({', '.join(sorted(summary.skipped))})")
    summary.cropped = len(cuts)
    if cuts:
        summary.cut_seconds = (float(np.median(cuts)), float(np.max(cuts)))
    return _collect(waveforms, kept, durations, summary)


def _fitted_clip(path: Path, samples: np.ndarray, rate: int, data: DataConfig,
                 features: FeatureConfig) -> tuple[torch.Tensor, int]:
    """The file's samples at the recipe's rate and clip length, aligned as data.align says, and
    how many samples of sound were cut off."""
    waveform = resample(torch.from_numpy(samples), rate, features.sample_rate)
    try:
        return fit_length(waveform, features.clip_samples, data.align, features.sample_rate)
    except ValueError as err:  # align: onset, and none found
        raise BadAudioFile(path, str(err)) from None


def _collect(waveforms: list[torch.Tensor], kept: list[ClipFile], durations: list[float],
             summary: DataSummary) -> Clips:
    label_names = sorted({f.label for f in kept if f.label is not None}, key=_natural_key)
    index = {name: i for i, name in enumerate(label_names)}
    labels = torch.tensor([index.get(f.label, 0) for f in kept], dtype=torch.int64)
    summary.used = len(kept)
    summary.label_counts = {name: count for name, count in sorted(
        Counter(f.label for f in kept if f.label is not None).items(), key=lambda kv: _natural_key(kv[0]))}
    summary.split_counts = {s: c for s in SPLITS if (c := sum(f.split == s for f in kept))}
    summary.durations = (float(np.min(durations)), float(np.median(durations)), float(np.max(durations)))
    return Clips(waveforms=torch.stack(waveforms), labels=labels, label_names=label_names,
                 splits=[f.split for f in kept], summary=summary)


def _natural_key(name: str) -> tuple:
    """Sort '2' before '10' and numbers before words."""
    return (0, int(name), "") if name.isdigit() else (1, 0, name)
