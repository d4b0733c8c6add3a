"""A trained generator as a source of labelled training clips for a classifier.

In the conventions of audiomentations and torch-audiomentations: datasets yield
(waveform, label index) like `RealClips`, the real data's own dataset, so the two mix
with `mix_with_synthetic`; `SyntheticSubstitution` is a batch transform that takes and returns
`samples, sample_rate, targets`. `write_labelled_folder` backs `ganaudio augment`: one
sub-folder per label plus a manifest.csv, which the `folder` source reads back.
"""

from __future__ import annotations

import csv
import io
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Sequence

import torch

from ganaudio.audio import fit_length, resample, write_wav
from ganaudio.config import Recipe
from ganaudio.data import read_audio_clips
from ganaudio.errors import UserError
from ganaudio.files import require_parent_folder
from ganaudio.synth import Synthesizer

CLIPS_PER_CALL = 200  # clips generated per call: the vocoder runs them 50 at a time


class RealClips(torch.utils.data.Dataset):
    """One split of an audio recipe's real clips as (waveform (samples,), label index)."""

    def __init__(self, recipe: Recipe, split: str = "train"):
        clips = read_audio_clips(recipe)
        keep = [i for i, s in enumerate(clips.splits) if s == split]
        self.waveforms, self.labels = clips.waveforms[keep], clips.labels[keep]
        self.label_names, self.sample_rate = clips.label_names, recipe.features.sample_rate

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.waveforms[index], self.labels[index]


def require_labelled_audio(synth: Synthesizer) -> None:
    """Augmentation makes labelled audio clips: refuse image and unconditional models by name."""
    if not synth.is_audio:
        raise UserError("augment: the model makes images, not audio clips")
    if not synth.labels:
        raise UserError("augment: the model is unconditional; labelled clips need a conditional model")


class SyntheticClips(torch.utils.data.Dataset):
    """`per_class` generated clips of each label (all, or `labels`) as (waveform, label index),
    label-major. Clips are made lazily CLIPS_PER_CALL at a time and kept (`cache=True`); clip i
    depends only on `seed`, the labels, per_class, the temperature and i, never on the order
    items are read, so a seed repeats the dataset. Each batch's generator seed is drawn from
    `seed`, so datasets of other seeds do not share clips. `temperature` as in
    Synthesizer.from_checkpoint; a given `synthesizer` keeps its own (as its vocoder and device)."""

    def __init__(self, checkpoint: Path | str | None = None, per_class: int = 100, seed: int = 0,
                 labels: Sequence[str] | None = None, device: str = "cpu", cache: bool = True,
                 synthesizer: Synthesizer | None = None, vocoder: Path | str | None = None,
                 temperature: float | None = None):
        if per_class <= 0:
            raise UserError(f"per_class: must be at least 1, got {per_class}")
        self.synth = synthesizer or Synthesizer.from_checkpoint(checkpoint, device=device, vocoder=vocoder,
                                                                 temperature=temperature)
        require_labelled_audio(self.synth)
        names = list(labels) if labels is not None else self.synth.labels
        indices = self.synth.label_indices(names, len(names))  # refuses unknown labels by name
        self.label_names = self.synth.labels
        self.labels = indices.repeat_interleave(per_class)
        self.per_class, self.seed, self.cache = per_class, seed, cache
        self.sample_rate = self.synth.sample_rate
        batches = math.ceil(len(self.labels) / CLIPS_PER_CALL)
        self.batch_seeds = torch.randint(2**31 - 1, (batches,), generator=torch.Generator().manual_seed(seed)).tolist()
        self._batches: dict[int, torch.Tensor] = {}

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not 0 <= index < len(self):
            raise IndexError(index)
        batch = index // CLIPS_PER_CALL
        waveforms = self._batches.get(batch)
        if waveforms is None:
            waveforms = self.batch(batch)
            if self.cache:
                self._batches[batch] = waveforms
        return waveforms[index % CLIPS_PER_CALL], self.labels[index]

    def batch(self, number: int) -> torch.Tensor:
        """The waveforms of items [number * CLIPS_PER_CALL, (number + 1) * CLIPS_PER_CALL)."""
        labels = self.labels[number * CLIPS_PER_CALL:(number + 1) * CLIPS_PER_CALL]
        names = [self.label_names[int(k)] for k in labels]
        return self.synth.generate(len(names), labels=names, seed=self.batch_seeds[number]).samples


# The share of GAN clips in what a classifier trains on, by default: a quarter. On FSDD, with
# GANs trained 2,000 steps on the classifier's own 5, 20 or 50 clips a digit, a quarter of each
# batch raised held-out accuracy at 5 and 20 clips a digit and left it level at 50 (BENCHMARKS.md,
# "GAN augmentation with GANs trained 2,000 steps").
SYNTHETIC_SHARE = 0.25


def mix_with_synthetic(real: torch.utils.data.Dataset, synthetic: SyntheticClips,
                       ratio: float = SYNTHETIC_SHARE / (1 - SYNTHETIC_SHARE),
                       seed: int = 0) -> torch.utils.data.ConcatDataset:
    """`real` plus round(ratio * len(real)) synthetic clips drawn at random (without
    replacement) from `synthetic`: ratio 1 doubles the data, 0.5 adds half as many; the
    default, 1/3, makes a quarter of the mixed set synthetic (SYNTHETIC_SHARE)."""
    if ratio < 0:
        raise UserError(f"ratio: must be >= 0, got {ratio}")
    for name in ("label_names", "sample_rate"):
        if hasattr(real, name) and getattr(real, name) != getattr(synthetic, name):
            raise UserError(f"{name}: the real clips have {getattr(real, name)}, the model {getattr(synthetic, name)}; "
                            f"label indices or rates would not match")
    count = round(ratio * len(real))
    if count > len(synthetic):
        raise UserError(f"ratio: {ratio} asks for {count} synthetic clips, the synthetic set has {len(synthetic)}")
    chosen = torch.randperm(len(synthetic), generator=torch.Generator().manual_seed(seed))[:count]
    return torch.utils.data.ConcatDataset([real, torch.utils.data.Subset(synthetic, chosen.tolist())])


def per_class_for_share(recipe: Recipe, labels: Sequence[str], share: float = SYNTHETIC_SHARE) -> int:
    """Synthetic clips per label that make `share` of real + synthetic: the recipe's real
    training clips of `labels`, on average per label, times share / (1 - share), rounded up."""
    real = RealClips(recipe, "train")
    counts = {name: int((real.labels == real.label_names.index(name)).sum()) if name in real.label_names else 0
              for name in labels}
    missing = [name for name, count in counts.items() if count == 0]
    if missing:  # most likely real data of another model: sizing from it would be wrong
        raise UserError(f"per_class: the real data has no training clips of label {', '.join(missing)} to size it "
                        f"from; give the number of clips per label, or the model's own data")
    count = sum(counts.values())
    return math.ceil(round(count / len(labels) * share / (1 - share), 6))  # 90.000000001 is 90


class SyntheticSubstitution:
    """With probability `p` (by default SYNTHETIC_SHARE, a quarter), replace each batch item by
    a fresh synthetic clip of its label (torch-audiomentations style: `samples` (batch,
    channels, time), `sample_rate`, `targets` (batch,) label indices in the model's label
    order, in and out). Synthetic clips are resampled to `sample_rate`, fitted to the batch's
    length and copied to every channel."""

    def __init__(self, checkpoint: Path | str | None = None, p: float = SYNTHETIC_SHARE, seed: int = 0,
                 device: str = "cpu", synthesizer: Synthesizer | None = None, vocoder: Path | str | None = None,
                 temperature: float | None = None):
        if not 0 <= p <= 1:
            raise UserError(f"p: must be in [0, 1], got {p}")
        self.synth = synthesizer or Synthesizer.from_checkpoint(checkpoint, device=device, vocoder=vocoder,
                                                                 temperature=temperature)
        require_labelled_audio(self.synth)
        self.p = p
        self.rng = torch.Generator().manual_seed(seed)

    def __call__(self, samples: torch.Tensor, sample_rate: int,
                 targets: torch.Tensor) -> tuple[torch.Tensor, int, torch.Tensor]:
        if targets.min() < 0 or targets.max() >= len(self.synth.labels):
            raise UserError(f"targets: label indices must be in [0, {len(self.synth.labels)}) (labels: "
                            f"{', '.join(self.synth.labels)})")
        chosen = torch.nonzero(torch.rand(len(samples), generator=self.rng) < self.p).flatten()
        if len(chosen) == 0:
            return samples, sample_rate, targets
        names = [self.synth.labels[int(targets[i])] for i in chosen]
        seed = int(torch.randint(2**31 - 1, (), generator=self.rng))
        made = self.synth.generate(len(names), labels=names, seed=seed)
        out = samples.clone()
        for i, clip in zip(chosen.tolist(), made.samples):
            clip = resample(clip, made.sample_rate, sample_rate)
            clip, _ = fit_length(clip, samples.shape[-1])
            out[i] = clip.to(out.dtype).to(out.device).expand_as(out[i])
        return out, sample_rate, targets


def require_new_folder(out: Path) -> None:
    """A user's files are never overwritten: `out` must be new or empty, in an existing folder."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError(f"{out}: already exists and is not an empty folder; pick a new --out")
    require_parent_folder(out)


def write_labelled_folder(synthetic: SyntheticClips, out: Path, keep: torch.Tensor | None = None) -> list[Path]:
    """WAVs in `out/<label>/<label>-<i>.wav` plus `out/manifest.csv` (path, label, seed, item,
    temperature: `SyntheticClips(checkpoint, per_class, seed, labels, temperature=...)[item]`
    remakes the clip), all or nothing: written into a temporary folder beside `out`, renamed
    into place at the end.
    `keep` (a bool per clip) drops clips, e.g. those the quality filter rejected."""
    out = Path(out)
    require_new_folder(out)
    rows, written = io.StringIO(), []
    manifest = csv.writer(rows)
    manifest.writerow(["path", "label", "seed", "item", "temperature"])
    counters: dict[str, int] = {}
    staging = None
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
        for index in range(len(synthetic)):
            if keep is not None and not bool(keep[index]):
                continue
            waveform, label = synthetic[index]
            name = synthetic.label_names[int(label)]
            number = counters.get(name, 0)
            counters[name] = number + 1
            relative = Path(name) / f"{name}-{number:05d}.wav"
            (staging / name).mkdir(exist_ok=True)
            write_wav(staging / relative, waveform, synthetic.sample_rate)
            manifest.writerow([relative.as_posix(), name, synthetic.seed, index, repr(synthetic.synth.temperature)])
            written.append(out / relative)
        (staging / "manifest.csv").write_text(rows.getvalue())
        if out.exists():
            out.rmdir()  # empty, checked above
        os.replace(staging, out)
    except OSError as err:
        raise UserError(f"{out}: cannot write ({err.strerror or err})") from None
    finally:
        if staging is not None:  # only the folder this call made
            shutil.rmtree(staging, ignore_errors=True)
    return written


def quality_filter(synthetic: SyntheticClips, recipe: Recipe) -> torch.Tensor:
    """Keep (True) the clips that `ganaudio evaluate`'s classifier, trained on the recipe's real
    data, assigns to their intended label."""
    from ganaudio.evaluate import Reference

    reference = Reference.for_recipe(recipe)
    reference.require_labels(synthetic.label_names, "filter")
    keep = []
    for start in range(0, len(synthetic), CLIPS_PER_CALL):
        items = [synthetic[i] for i in range(start, min(start + CLIPS_PER_CALL, len(synthetic)))]
        waveforms = reference.level(torch.stack([w for w, _ in items]))
        probabilities, _ = reference.classify(waveforms)
        keep.append(probabilities.argmax(dim=1) == torch.stack([label for _, label in items]))
    return torch.cat(keep)
