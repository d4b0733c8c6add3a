"""The Trainer: one WGAN loop for every recipe, mel spectrograms and images alike.

It sees only tensors of shape (n, 1, height, width) in [-1, 1] and their labels; what a
sample means (audio or pixels) lives behind the `preview` callback, so this module imports
no audio code. Each step returns a flat dict of named numbers that the loop logs.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import math
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
from tqdm import tqdm

from ganaudio.checkpoint import BEST, list_checkpoints, load_checkpoint, save_best_checkpoint, save_checkpoint
from ganaudio.config import Recipe, recipe_from_dict
from ganaudio.data import Dataset
from ganaudio.diffaugment import DiffAugment
from ganaudio.errors import UserError
from ganaudio.losses import critic_loss, generator_loss, gradient_penalty, r1_penalty
from ganaudio.models import Critic, Generator

# (samples (n, 1, H, W) in [-1, 1], label indices (n,), file stem without extension) -> None
Preview = Callable[[torch.Tensor, torch.Tensor, Path], None]
# (samples, label indices) -> {"eval/frechet_distance": ..., ...}: evaluate.training_evaluator
Evaluate = Callable[[torch.Tensor, torch.Tensor], dict[str, float]]
BEST_BY = "eval/frechet_distance"  # lower is better
EVAL_SEED = 1  # the same latents at every evaluation, so the figures move with the weights only


def pick_device(choice: str) -> torch.device:
    if choice == "cuda" and not torch.cuda.is_available():
        raise UserError("train.device: 'cuda' was asked for but no CUDA device is available")
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(choice)


@contextlib.contextmanager
def tensorboard_writer(run_dir: Path) -> Iterator[Any]:
    """TensorBoard scalars beside metrics.jsonl when tensorboard is installed (it is optional:
    `pip install tensorboard`), else None."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # torch raises it when the tensorboard package is missing
        yield None
        return
    writer = SummaryWriter(log_dir=str(run_dir))
    try:
        yield writer
    finally:
        writer.close()


class Trainer:
    """Builds the models from the dataset, trains them, and writes the run folder."""

    def __init__(self, recipe: Recipe, dataset: Dataset, run_dir: Path, preview: Preview | None = None,
                 evaluate: Evaluate | None = None):
        self.recipe, self.run_dir, self.preview, self.evaluate = recipe, Path(run_dir), preview, evaluate
        self.train_config = recipe.train
        cfg = recipe.train
        if cfg.threads is not None:
            torch.set_num_threads(cfg.threads)
        self.device = pick_device(cfg.device)
        self.autocast = self.device.type == "cuda" and cfg.mixed_precision
        self.label_names = dataset.label_names
        self.feature_state = dataset.feature_state
        self.sample_shape = dataset.sample_shape
        self.num_classes = dataset.num_classes if recipe.model.conditional else 0
        # Data lives on the training device: FSDD at 64x64 is 45 MB, so batches cost no copies.
        self.samples = dataset.samples.to(self.device)
        self.labels = dataset.labels.to(self.device)

        torch.manual_seed(cfg.seed)  # model initialisation is the only use of the global RNG
        layout = torch.channels_last  # oneDNN (CPU) and cuDNN convolutions are fastest in it
        self.generator = Generator(recipe.model, self.sample_shape, self.num_classes).to(self.device, memory_format=layout)
        self.critic = Critic(recipe.model, self.sample_shape, self.num_classes).to(self.device, memory_format=layout)
        self.generator_ema = copy.deepcopy(self.generator).eval().requires_grad_(False)
        self.opt_generator = torch.optim.Adam(self.generator.parameters(), lr=cfg.lr_generator,
                                              betas=(cfg.beta1, cfg.beta2))
        self.opt_critic = torch.optim.Adam(self.critic.parameters(), lr=cfg.lr_critic,
                                           betas=(cfg.beta1, cfg.beta2))
        self.rng = torch.Generator().manual_seed(cfg.seed)  # batches, z, penalty mixing, augmentation
        self.augment = DiffAugment(cfg.diffaugment_shift, cfg.diffaugment_cutout, self.rng)
        self.step = 0
        self.critic_updates = 0  # decides which critic steps compute the lazy penalties
        self.ema_statistics_stale = True  # see refresh_ema_statistics
        self.evaluations: list[dict[str, float]] = []  # one row per evaluation, with its step
        self.best_score, self.best_step = math.inf, None  # BEST_BY and step of best.pt

    # ----- one training step -------------------------------------------------------------
    def random_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        index = torch.randint(len(self.samples), (self.train_config.batch_size,), generator=self.rng)
        index = index.to(self.device)
        return self.samples[index], self.labels[index]

    def random_latents(self, count: int) -> torch.Tensor:
        return torch.randn(count, self.generator.latent_dim, generator=self.rng).to(self.device)

    def critic_step(self) -> dict[str, float]:
        cfg = self.train_config
        real, labels = self.random_batch()
        cond = labels if self.num_classes else None
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.autocast):
            with torch.no_grad():
                fake = self.generator(self.random_latents(len(real)), cond)
            # The critic only ever sees augmented inputs; the penalties below too (as DiffAugment).
            real, fake = self.augment(real), self.augment(fake)
            losses = critic_loss(cfg.loss, self.critic(real, cond), self.critic(fake, cond))
        total = losses.pop("total").float()
        self.critic_updates += 1
        if self.critic_updates % cfg.penalty_every == 0:
            scores = lambda x: self.critic(x, cond)  # noqa: E731  (labels bound in)
            if cfg.loss == "wgan-gp" and cfg.gp_weight > 0:
                penalty = gradient_penalty(scores, real, fake, generator=self.rng)
                total = total + cfg.gp_weight * cfg.penalty_every * penalty
                losses["critic/gp"] = penalty.detach()
            if cfg.r1_weight > 0:
                penalty = r1_penalty(scores, real)
                total = total + cfg.r1_weight * cfg.penalty_every * penalty
                losses["critic/r1"] = penalty.detach()
        self.opt_critic.zero_grad(set_to_none=True)
        total.backward()
        self.opt_critic.step()
        return {"critic/loss": float(total.detach()), **{k: float(v) for k, v in losses.items()}}

    def generator_step(self) -> dict[str, float]:
        _, labels = self.random_batch()  # labels drawn from the data's class balance
        cond = labels if self.num_classes else None
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.autocast):
            fake = self.augment(self.generator(self.random_latents(len(labels)), cond))
            losses = generator_loss(self.train_config.loss, self.critic(fake, cond))
        total = losses.pop("total").float()
        self.critic.requires_grad_(False)  # no critic gradients needed for the generator step
        self.opt_generator.zero_grad(set_to_none=True)
        total.backward()
        self.critic.requires_grad_(True)
        self.opt_generator.step()
        return {"gen/loss": float(total.detach()), **{k: float(v) for k, v in losses.items()}}

    @torch.no_grad()
    def update_ema(self) -> None:
        cfg = self.train_config
        decay = 0.0 if self.step <= cfg.ema_start else cfg.ema_decay
        for ema, live in zip(self.generator_ema.parameters(), self.generator.parameters()):
            ema.lerp_(live, 1 - decay)
        self.ema_statistics_stale = True

    @torch.no_grad()
    def refresh_ema_statistics(self, batches: int = 8, batch_size: int = 64) -> None:
        """Recompute the EMA generator's batch-norm statistics for its own averaged weights.

        The live generator's running statistics belong to other weights: paired with the
        averaged ones they sampled noise (label accuracy 0.11 against 0.75, BENCHMARKS.md).
        This is torch.optim.swa_utils.update_bn written out, because that helper hands the
        model only the first element of each batch and the generator needs labels too. A fixed
        seed keeps it out of the training RNG, so resumed runs stay exact."""
        if not self.ema_statistics_stale:
            return
        norms = [m for m in self.generator_ema.modules() if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d))]
        momenta = [m.momentum for m in norms]
        for norm in norms:
            norm.reset_running_stats()
            norm.momentum = None  # None: a plain average over the batches below
        rng = torch.Generator().manual_seed(0)
        self.generator_ema.train()
        for _ in range(batches):
            labels = torch.randint(max(self.num_classes, 1), (batch_size,), generator=rng).to(self.device)
            z = torch.randn(batch_size, self.generator.latent_dim, generator=rng).to(self.device)
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.autocast):
                self.generator_ema(z, labels if self.num_classes else None)
        self.generator_ema.eval()
        for norm, momentum in zip(norms, momenta):
            norm.momentum = momentum
        self.ema_statistics_stale = False

    def train_step(self) -> dict[str, float]:
        # Critic updates: several per generator update (WGAN needs a near-optimal critic).
        critic_metrics = [self.critic_step() for _ in range(self.train_config.critic_steps)]
        keys = {k for m in critic_metrics for k in m}  # lazy penalties appear on some steps only
        metrics = {k: sum(m[k] for m in critic_metrics if k in m) / sum(k in m for m in critic_metrics)
                   for k in sorted(keys)}
        # Generator update.
        metrics.update(self.generator_step())
        self.step += 1
        # EMA generator update: it is the one used for samples.
        self.update_ema()
        return metrics

    # ----- sampling ----------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, count: int, labels: torch.Tensor | None = None, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """(samples, labels) from the EMA generator, repeatable from `seed`; labels cycle
        through the classes when not given."""
        self.refresh_ema_statistics()
        rng = torch.Generator().manual_seed(seed)
        if labels is None:
            labels = torch.arange(count) % max(self.num_classes, 1)
        z = torch.randn(count, self.generator.latent_dim, generator=rng).to(self.device)
        cond = labels.to(self.device) if self.num_classes else None
        return self.generator_ema(z, cond).float().cpu(), labels

    # ----- the loop ----------------------------------------------------------------------
    def fit(self) -> Path:
        """Train up to train.steps (or train.max_minutes) and return the last checkpoint."""
        cfg = self.train_config
        self.run_dir.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        last_checkpoint = None
        with open(self.run_dir / "metrics.jsonl", "a") as log, tensorboard_writer(self.run_dir) as board, tqdm(
                total=cfg.steps, initial=self.step, desc="training", unit="step", dynamic_ncols=True) as bar:
            while self.step < cfg.steps:
                metrics = self.train_step()
                bar.update(1)
                bar.set_postfix({"D": f"{metrics['critic/loss']:.3f}", "G": f"{metrics['gen/loss']:.3f}",
                                 "W": f"{metrics['critic/wdist']:.3f}"}, refresh=False)
                if not all(math.isfinite(v) for v in metrics.values()):
                    raise RuntimeError(f"training diverged at step {self.step}: {metrics}")
                elapsed = time.perf_counter() - started
                if self.step % cfg.log_every == 0:
                    log.write(json.dumps({"step": self.step, "seconds": round(elapsed, 2), **metrics}) + "\n")
                    log.flush()
                    if board is not None:
                        for name, value in metrics.items():
                            board.add_scalar(name, value, self.step)
                if self.step % cfg.sample_every == 0:
                    self.write_preview()
                if cfg.eval_every and self.evaluate is not None and self.step % cfg.eval_every == 0:
                    row = self.run_evaluation(elapsed)
                    log.write(json.dumps(row) + "\n")
                    log.flush()
                    if board is not None:
                        for name, value in row.items():
                            board.add_scalar(name, value, self.step)
                    bar.write(f"step {self.step}: " + ", ".join(f"{k[5:]} {v:.3g}" for k, v in row.items() if k.startswith("eval/")))
                out_of_time = cfg.max_minutes is not None and elapsed > 60 * cfg.max_minutes
                if self.step % cfg.checkpoint_every == 0 or self.step == cfg.steps or out_of_time:
                    last_checkpoint = self.save()
                if out_of_time:
                    break
        if self.step % cfg.sample_every:
            self.write_preview()
        return last_checkpoint or self.save()

    def run_evaluation(self, elapsed: float) -> dict[str, float]:
        """Score the EMA generator; keep it as best.pt when its Frechet distance is the lowest
        so far. Returns the metrics.jsonl row."""
        samples, labels = self.sample(self.train_config.eval_samples, seed=EVAL_SEED)
        row = {"step": self.step, "seconds": round(elapsed, 2), **self.evaluate(samples, labels)}
        self.evaluations.append(row)
        if row[BEST_BY] < self.best_score:
            self.best_score, self.best_step = row[BEST_BY], self.step
            save_best_checkpoint(self.run_dir, self.step, {**self.payload(), "evaluation": row})
        from ganaudio.plots import evaluation_curves

        evaluation_curves(sorted(self.evaluations, key=lambda r: r["step"]), self.run_dir / "evaluation.png")
        return row

    def write_preview(self) -> None:
        if self.preview is not None:
            samples, labels = self.sample(self.recipe.output.grid_samples)
            self.preview(samples, labels, self.run_dir / f"samples-{self.step:07d}")

    # ----- checkpoints -------------------------------------------------------------------
    def save(self) -> Path:
        return save_checkpoint(self.run_dir, self.step, self.payload(), keep=self.train_config.keep_checkpoints)

    def payload(self) -> dict[str, Any]:
        """Everything a checkpoint holds: both generators, critic, optimizers, RNG, recipe."""
        self.refresh_ema_statistics()
        return {
            "generator": self.generator.state_dict(),
            "generator_ema": self.generator_ema.state_dict(),
            "critic": self.critic.state_dict(),
            "opt_generator": self.opt_generator.state_dict(),
            "opt_critic": self.opt_critic.state_dict(),
            "rng": self.rng.get_state(),
            "critic_updates": self.critic_updates,
            "recipe": self.recipe.to_dict(),
            "recipe_name": self.recipe.name,
            "feature_state": self.feature_state,
            "label_names": list(self.label_names),
            "sample_shape": list(self.sample_shape),
            "num_classes": self.num_classes,
        }

    def resume(self) -> int:
        """Continue from the run folder's newest checkpoint; returns its step."""
        found = list_checkpoints(self.run_dir)
        if not found:
            raise UserError(f"{self.run_dir}: no checkpoint to resume from")
        state = load_checkpoint(found[-1])
        saved = recipe_from_dict(state["recipe"], name=state["recipe_name"])
        # Griffin-Lim settings only shape previews and synthesis, not what is trained.
        inversion = {key: getattr(self.recipe.features, key) for key in ("griffin_lim_iters", "griffin_lim_momentum")}
        saved_features = dataclasses.replace(saved.features, **inversion)
        if (saved.model, saved_features, saved.data) != (self.recipe.model, self.recipe.features, self.recipe.data):
            raise UserError(f"{found[-1]}: was trained with other data, feature or model settings "
                            f"than this recipe; resume with the run's own recipe.yaml")
        self.generator.load_state_dict(state["generator"])
        self.generator_ema.load_state_dict(state["generator_ema"])
        self.critic.load_state_dict(state["critic"])
        self.opt_generator.load_state_dict(state["opt_generator"])
        self.opt_critic.load_state_dict(state["opt_critic"])
        self.rng.set_state(state["rng"])
        self.step = int(state["step"])
        self.critic_updates = int(state["critic_updates"])
        self.ema_statistics_stale = False  # saved after a refresh
        self.restore_evaluations()
        return self.step

    def restore_evaluations(self) -> None:
        """Bring back the evaluation history (for the plot) and the best score (for best.pt)."""
        log = self.run_dir / "metrics.jsonl"
        rows = [json.loads(line) for line in log.read_text().splitlines() if line] if log.is_file() else []
        self.evaluations = [row for row in rows if BEST_BY in row and row["step"] <= self.step]
        best = self.run_dir / BEST
        if best.is_file():
            # A best.pt newer than the checkpoint resumed from (the run went on after its last
            # checkpoint) is kept: it is still the best model this run has made.
            state = load_checkpoint(best)
            self.best_score, self.best_step = float(state["evaluation"][BEST_BY]), int(state["step"])
            if self.best_step > self.step:
                self.evaluations.append(dict(state["evaluation"]))
