"""The run folder: every file a training run writes is named and written here, by one owner.

    recipe.yaml               the resolved recipe, written when the run starts
    metrics.jsonl             a JSON row per logged step and per evaluation
    samples-<step>.png        preview grids (and samples-<step>-<i>-<label>.wav), by the preview callback
    checkpoint-<step>.pt      the newest train.keep_checkpoints, each written atomically
    best.pt                   the checkpoint with the best evaluation (the GAN's Frechet distance,
                              the vocoder's round-trip STFT distance)
    best-step<N>-earlier-measure.pt   a best.pt a resume set aside: scored under another measure
    evaluation.png, losses.png   curves
    events.out.tfevents.*     TensorBoard scalars, when tensorboard is installed

Any loop that trains a model into a folder (the GAN trainer and the vocoder trainer) uses it, so
resume, trimming and the cleanup of a killed process's temporaries work the same for all.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any, Iterator, TextIO

from ganaudio.checkpoint import BEST, checkpoint_path, list_checkpoints, save_best_checkpoint, save_checkpoint
from ganaudio.files import remove_stale_temporaries, write_text_atomically

RECIPE = "recipe.yaml"
METRICS = "metrics.jsonl"


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """The rows of a run's metrics.jsonl; a line a kill cut short is left out."""
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


class RunFolder:
    """The files of one run in `path`; only the main process of a run writes through it."""

    def __init__(self, path: Path | str, command: str = "train"):
        self.path = Path(path)
        self.command = command  # the ganaudio subcommand that trains into it

    def __str__(self) -> str:
        return str(self.path)

    @property
    def recipe_file(self) -> Path:
        return self.path / RECIPE

    @property
    def best_file(self) -> Path:
        return self.path / BEST

    def prepare(self) -> None:
        """Make the folder, and remove the temporaries that killed processes left in it."""
        self.path.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(self.path)

    def write_recipe(self, yaml_text: str) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        write_text_atomically(self.recipe_file, yaml_text)

    def resume_command(self) -> str:
        return f"ganaudio {self.command} {self.recipe_file} --out {self.path} --resume"

    # ----- metrics --------------------------------------------------------------------------
    @contextlib.contextmanager
    def metrics_log(self, resumed: bool) -> Iterator[TextIO]:
        """A fresh run starts a fresh log; a resumed one appends to the log trim_metrics left."""
        with open(self.path / METRICS, "a" if resumed else "w") as log:
            yield log

    def metrics(self) -> list[dict[str, Any]]:
        return read_metrics(self.path / METRICS)

    def trim_metrics(self, step: int) -> None:
        """Keep the rows up to `step` (a resumed run logs the steps after it again), atomically."""
        path = self.path / METRICS
        if path.is_file():
            write_text_atomically(path, "".join(json.dumps(row) + "\n" for row in read_metrics(path)
                                                if row.get("step", 0) <= step))

    @contextlib.contextmanager
    def tensorboard(self) -> Iterator[Any]:
        """TensorBoard scalars beside metrics.jsonl when tensorboard is installed (it is optional:
        `pip install tensorboard`), else None."""
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:  # torch raises it when the tensorboard package is missing
            yield None
            return
        writer = SummaryWriter(log_dir=str(self.path))
        try:
            yield writer
        finally:
            writer.close()

    # ----- checkpoints and previews -----------------------------------------------------------
    def checkpoints(self) -> list[Path]:
        return list_checkpoints(self.path)

    def checkpoint(self, step: int) -> Path:
        return checkpoint_path(self.path, step)

    def save_checkpoint(self, step: int, payload: dict[str, Any], keep: int) -> Path:
        return save_checkpoint(self.path, step, payload, keep=keep)

    def save_best(self, step: int, payload: dict[str, Any]) -> Path:
        return save_best_checkpoint(self.path, step, payload)

    def set_aside_best(self, step: int) -> Path:
        """Rename best.pt (of `step`) to best-step<step>-earlier-measure[-K].pt, a name no
        file has yet, so one set aside earlier is never written over."""
        stem, count = f"best-step{step:07d}-earlier-measure", 1
        kept = self.path / f"{stem}.pt"
        while kept.exists():
            count += 1
            kept = self.path / f"{stem}-{count}.pt"
        self.best_file.rename(kept)
        return kept

    def sample_stem(self, step: int) -> Path:
        """samples-<step>, which the preview callback completes with .png and -<i>-<label>.wav."""
        return self.path / f"samples-{step:07d}"

    # ----- curves -------------------------------------------------------------------------------
    def plot_evaluation(self, rows: list[dict[str, Any]], best_by: str) -> Path:
        from ganaudio.plots import evaluation_curves

        return evaluation_curves(rows, self.path / "evaluation.png", best_by)

    def plot_losses(self) -> Path | None:
        """losses.png from the logged training rows (evaluation rows have their own plot)."""
        from ganaudio.plots import loss_curves

        rows = [row for row in self.metrics() if "critic/loss" in row]
        return loss_curves(rows, self.path / "losses.png") if rows else None
