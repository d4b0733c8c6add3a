"""Pictures people would rather look at than read: spectrogram and image grids.

Builds matplotlib `Figure`s directly rather than through pyplot, so importing ganaudio never
changes the user's matplotlib backend and no display is needed; writes atomically, so a killed run
never leaves a half-written PNG.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

from ganaudio.config import FeatureConfig
from ganaudio.errors import UserError
from ganaudio.features import mel_band_centres_hz
from ganaudio.files import atomic_write, require_parent_folder


TICK_HZ = (50, 100, 200, 500, 1000, 2000, 4000, 8000, 16000)


def frequency_ticks(centres_hz: torch.Tensor) -> tuple[list[float], list[str]]:
    """Positions on the mel-band axis (band i spans i..i+1) and labels of round frequencies."""
    centres = centres_hz.double().numpy()
    positions, labels = [], []
    for hz in TICK_HZ:
        if not centres[0] <= hz <= centres[-1]:
            continue
        position = float(np.interp(hz, centres, np.arange(len(centres)))) + 0.5
        if positions and position - positions[-1] < len(centres) / 16:
            positions.pop(), labels.pop()  # too close to read: the higher one stays
        positions.append(position)
        labels.append(f"{hz // 1000}k" if hz >= 1000 else str(hz))
    return positions, labels


def spectrogram_grid(features: torch.Tensor, path: Path | str, config: FeatureConfig,
                     titles: list[str] | None = None, columns: int = 4) -> Path:
    """Plot (n, 1, n_mels, frames) features in [-1, 1] as a grid, time in seconds and frequency
    in Hz (on the mel scale) at the recipe's rate, so an attack at 0 s or a cymbal's energy at
    10 kHz shows at a glance."""
    rows = math.ceil(features.shape[0] / columns)
    figure = Figure(figsize=(3.2 * columns, 2.6 * rows), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False)
    seconds = features.shape[-1] * config.hop_length / config.sample_rate
    ticks, tick_labels = frequency_ticks(mel_band_centres_hz(config))
    for index, axis in enumerate(axes.flat):
        if index >= features.shape[0]:
            axis.axis("off")
            continue
        image = axis.imshow(features[index, 0].cpu().numpy(), origin="lower", aspect="auto",
                            cmap="magma", vmin=-1, vmax=1, extent=(0, seconds, 0, features.shape[-2]))
        axis.set_xlabel("time (s)")
        axis.set_yticks(ticks, tick_labels)
        axis.set_ylabel("frequency (Hz)")
        if titles:
            axis.set_title(titles[index])
    figure.colorbar(image, ax=axes, shrink=0.8, label="normalized log-mel")
    return _save(figure, path)


def image_grid(images: torch.Tensor, path: Path | str, titles: list[str] | None = None,
               columns: int = 8) -> Path:
    """Plot (n, 1, height, width) images in [-1, 1] as a grey grid."""
    rows = math.ceil(images.shape[0] / columns)
    figure = Figure(figsize=(1.4 * columns, 1.6 * rows))
    axes = figure.subplots(rows, columns, squeeze=False)
    for index, axis in enumerate(axes.flat):
        axis.axis("off")
        if index < images.shape[0]:
            axis.imshow(images[index, 0].cpu().numpy(), cmap="gray", vmin=-1, vmax=1)
            if titles:
                axis.set_title(titles[index], fontsize=9)
    return _save(figure, path)


def _save(figure: Figure, path: Path | str) -> Path:
    path = Path(path)
    require_parent_folder(path)
    try:
        with atomic_write(path) as temporary:
            figure.savefig(temporary, dpi=100, bbox_inches="tight", format=path.suffix.lstrip(".") or "png")
    except OSError as err:
        raise UserError(f"{path}: cannot write ({err.strerror})") from None
    return path


def loss_curves(metrics: list[dict], path: Path | str) -> Path:
    """Critic and generator losses and the Wasserstein estimate against step."""
    steps = [m["step"] for m in metrics]
    names = [("critic/loss", "critic loss"), ("gen/loss", "generator loss"), ("critic/wdist", "Wasserstein estimate")]
    figure = Figure(figsize=(5 * len(names), 3.4), layout="constrained")
    axes = figure.subplots(1, len(names))
    for axis, (key, title) in zip(axes, names):
        axis.plot(steps, [m.get(key, float("nan")) for m in metrics], linewidth=1)
        axis.set_title(title)
        axis.set_xlabel("generator step")
        axis.grid(alpha=0.3)
    return _save(figure, path)


EVALUATION_TITLES = {"eval/frechet_distance": "Frechet distance", "eval/accuracy": "label accuracy",
                     "eval/inception_score": "inception score", "eval/recall": "recall (signal statistics)",
                     "eval/least_label_spread": "least label spread (signal statistics)",
                     "eval/least_label_accuracy": "least label accuracy",
                     "eval/stft_distance": "multi-resolution STFT distance", "eval/log_mel_distance": "log-mel distance"}


def evaluation_curves(rows: list[dict], path: Path | str, best_by: str = "eval/frechet_distance") -> Path:
    """Each evaluation figure against step, one panel per figure; the lowest `best_by` (the
    one best.pt holds) is marked. Any model's evaluations: the GAN's are named nicely."""
    steps = [row["step"] for row in rows]
    keys = sorted({key for row in rows for key in row if key.startswith("eval/")},
                  key=lambda key: (key != best_by, key))
    keys = [key for key in keys if key in EVALUATION_TITLES or key == best_by] or keys
    figure = Figure(figsize=(5 * len(keys), 3.4), layout="constrained")
    axes = figure.subplots(1, len(keys), squeeze=False)[0]
    for axis, key in zip(axes, keys):
        values = [row.get(key, float("nan")) for row in rows]
        axis.plot(steps, values, marker=".", linewidth=1)
        if key == best_by:
            best = min(range(len(values)), key=lambda i: values[i])
            axis.plot([steps[best]], [values[best]], "r*", markersize=12, label=f"best (step {steps[best]})")
            axis.legend(loc="upper right")
        axis.set_title(EVALUATION_TITLES.get(key, key[len("eval/"):]) + (" (lower is better)" if key == best_by else ""))
        axis.set_xlabel("step")
        axis.grid(alpha=0.3)
    return _save(figure, path)
