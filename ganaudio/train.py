"""Training a GAN from a recipe: the GAN's state and step (gan.py) run by the shared loop
(loop.py) into a run folder (run_folder.py), and the checks that make resuming safe.

It sees only tensors of shape (n, 1, height, width) in [-1, 1] and their labels; what a
sample means (audio or pixels) lives behind the `preview` callback, so this module imports
no audio code. Under `torchrun` every process trains and only the main process writes.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable

import torch

from ganaudio.checkpoint import load_checkpoint, same_feature_state
from ganaudio.config import FeatureConfig, Recipe, recipe_from_dict
from ganaudio.errors import UserError
from ganaudio.gan import GanState, GanStep, TrainingData
from ganaudio.loop import TrainingLoop
from ganaudio.run_folder import RunFolder
from ganaudio.runtime import join_process_group, use_bf16

# (samples (n, 1, H, W) in [-1, 1], label indices (n,), file stem without extension) -> None
Preview = Callable[[torch.Tensor, torch.Tensor, Path], None]
# (samples, label indices) -> {"eval/frechet_distance": ..., ...}: evaluate.TrainingEvaluator, whose
# `measure` names what its figures compare under (another callable: "")
Evaluate = Callable[[torch.Tensor, torch.Tensor], dict[str, float]]
BEST_BY = "eval/frechet_distance"  # lower is better
EVAL_SEED = 1  # the same latents at every evaluation, so the figures move with the weights only
PROGRESS = {"D": "critic/loss", "G": "gen/loss", "W": "critic/wdist"}  # beside the progress bar


def what_is_trained_on(features: FeatureConfig) -> FeatureConfig:
    """The feature settings without Griffin-Lim's, which only shape decoding: a run resumes
    whatever they are."""
    return dataclasses.replace(features, griffin_lim_iters=FeatureConfig.griffin_lim_iters,
                               griffin_lim_momentum=FeatureConfig.griffin_lim_momentum)


class Trainer:
    """One GAN training run: `state` (networks, optimizers, RNG), `train_step` (one update),
    `loop` (the phases, on train.* settings) and `run` (the files)."""

    def __init__(self, recipe: Recipe, dataset: TrainingData, run_dir: Path, preview: Preview | None = None,
                 evaluate: Evaluate | None = None):
        cfg = recipe.train
        if not recipe.data.is_images and recipe.features.clip_seconds == "auto":  # checkpoints keep the length
            raise UserError("features.clip_seconds: 'auto' must be decided before training; "
                            "pass ganaudio.data.resolve_clip_seconds(recipe) to the Trainer")
        if cfg.threads is not None:
            torch.set_num_threads(cfg.threads)
        self.recipe, self.label_names, self.feature_state = recipe, dataset.label_names, dataset.feature_state
        self.shard, self.device = join_process_group(cfg.device)
        self.autocast = use_bf16(self.device, cfg.mixed_precision)
        self.state = GanState(recipe, dataset, self.shard, self.device, self.autocast)
        # Data lives on the training device: FSDD at 64x64 is 45 MB, so batches cost no copies.
        self.train_step = GanStep(self.state, recipe, dataset.samples.to(self.device), dataset.labels.to(self.device),
                                  self.shard)
        self.run = RunFolder(run_dir)
        self.preview, self.evaluate = preview, evaluate
        self.loop = TrainingLoop(self.state, self.train_step, self.run, cfg, self.shard, self.device,
                                 preview=self.write_preview if preview else None,
                                 evaluate=self.score if evaluate else None, best_by=BEST_BY, progress=PROGRESS,
                                 measure=getattr(evaluate, "measure", ""))

    @property
    def step(self) -> int:
        return self.state.step

    @property
    def best_step(self) -> int | None:
        return self.loop.best_step

    def fit(self) -> Path:
        """Train up to train.steps (or train.max_minutes) and return the last checkpoint."""
        return self.loop.fit()

    def write_preview(self, step: int) -> None:
        samples, labels = self.state.sample(self.recipe.output.grid_samples)
        self.preview(samples, labels, self.run.sample_stem(step))

    def score(self) -> dict[str, float]:
        """The evaluation of the EMA generator, on the same latents every time."""
        return self.evaluate(*self.state.sample(self.recipe.train.eval_samples, seed=EVAL_SEED))

    def resume(self) -> int:
        """Continue from the run folder's newest checkpoint, if it fits this recipe and data;
        returns its step."""
        found = self.run.checkpoints()
        if not found:
            raise UserError(f"{self.run.path}: no checkpoint to resume from")
        state = load_checkpoint(found[-1])
        self.check_fits(found[-1], state)
        try:
            self.state.load_state_dict(state)
        except (KeyError, RuntimeError, ValueError) as err:
            raise UserError(f"{found[-1]}: its weights do not fit the model its recipe describes "
                            f"({str(err).splitlines()[0][:120]})") from None
        cfg = self.recipe.train
        self.state.set_optimizer_settings(cfg.lr_generator, cfg.lr_critic, (cfg.beta1, cfg.beta2))
        self.loop.resumed()
        return self.state.step

    def check_fits(self, path: Path, state: dict) -> None:
        """The checkpoint was trained with this recipe's data, features and model, on the same
        data (which may have moved: data.root is not compared)."""
        saved = recipe_from_dict(state["recipe"], name=state["recipe_name"])
        if ((saved.model, what_is_trained_on(saved.features), saved.data.what_the_data_is())
                != (self.recipe.model, what_is_trained_on(self.recipe.features), self.recipe.data.what_the_data_is())):
            raise UserError(f"{path}: was trained with other data, feature or model settings "
                            f"than this recipe; resume with the run's own recipe.yaml")
        if state["label_names"] != list(self.label_names) or not same_feature_state(state["feature_state"],
                                                                              self.feature_state):
            raise UserError(f"{path}: the data at {self.recipe.data.root or 'its default place'} is not the "
                            f"data this run trained on (other labels or feature statistics)")
