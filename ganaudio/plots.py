"""Pictures people would rather look at than read: spectrogram and image grids.

Builds matplotlib `Figure`s directly rather than through pyplot, so importing ganaudio never
changes the user's matplotlib backend and no display is needed; writes atomically, so a killed run
never leaves a half-written PNG.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from matplotlib.figure import Figure

from ganaudio.errors import UserError
from ganaudio.files import atomic_write, require_parent_folder


def spectrogram_grid(features: torch.Tensor, path: Path | str, titles: list[str] | None = None,
                     sample_rate: int | None = None, hop_length: int | None = None,
                     columns: int = 4) -> Path:
    """Plot (n, 1, n_mels, frames) features in [-1, 1] as a grid with time and mel axes."""
    rows = math.ceil(features.shape[0] / columns)
    figure = Figure(figsize=(3.2 * columns, 2.6 * rows), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False)
    frames = features.shape[-1]
    seconds = frames * hop_length / sample_rate if sample_rate and hop_length else None
    extent = (0, seconds if seconds else frames, 0, features.shape[-2])
    for index, axis in enumerate(axes.flat):
        if index >= features.shape[0]:
            axis.axis("off")
            continue
        image = axis.imshow(features[index, 0].cpu().numpy(), origin="lower", aspect="auto",
                            cmap="magma", vmin=-1, vmax=1, extent=extent)
        axis.set_xlabel("time (s)" if seconds else "frame")
        axis.set_ylabel("mel bin")
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
                     "eval/inception_score": "inception score"}


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
