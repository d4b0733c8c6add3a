"""Generated samples -> files: spectrogram grids and WAVs for audio, digit grids for images.

The trainer calls `make_preview(...)` every few steps; it knows nothing of audio itself.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ganaudio.audio import write_wav
from ganaudio.config import Recipe
from ganaudio.features import MelFeatures
from ganaudio.plots import image_grid, spectrogram_grid
from ganaudio.train import Preview


def make_preview(recipe: Recipe, feature_state: dict[str, torch.Tensor], label_names: list[str]) -> Preview:
    """A callback writing `<stem>.png` (and `<stem>-<i>-<label>.wav` for audio recipes)."""
    features = MelFeatures.from_state_dict(recipe.features, feature_state) if recipe.features.kind == "mel" else None

    def titles(labels: torch.Tensor) -> list[str] | None:
        return [label_names[int(k)] for k in labels] if label_names else None

    def preview(samples: torch.Tensor, labels: torch.Tensor, stem: Path) -> None:
        if features is None:
            image_grid(samples, stem.with_suffix(".png"), titles=titles(labels))
            return
        spectrogram_grid(samples, stem.with_suffix(".png"), titles=titles(labels),
                         sample_rate=recipe.features.sample_rate, hop_length=recipe.features.hop_length)
        count = recipe.output.wav_samples
        if count:
            audio = features.decode(samples[:count])
            names = titles(labels[:count]) or [""] * count
            for index, (clip, name) in enumerate(zip(audio, names)):
                suffix = f"-{name}" if name else ""
                write_wav(stem.parent / f"{stem.name}-{index}{suffix}.wav", clip, recipe.features.sample_rate)

    return preview
