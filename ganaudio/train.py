"""The Trainer: one WGAN loop for every recipe, mel spectrograms and images alike.

It sees only tensors of shape (n, 1, height, width) in [-1, 1] and their labels; what a
sample means (audio or pixels) lives behind the `preview` callback, so this module imports
no audio code. Each step returns a flat dict of named scalar tensors; the loop turns them into
numbers (one device sync) only on the steps it logs.

Under `torchrun` the same loop trains with DistributedDataParallel (runtime.py): every process
holds the data, takes its slice of each global batch, and only the main process writes.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import math
import signal
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol

import torch
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from ganaudio.checkpoint import load_checkpoint
from ganaudio.config import DataConfig, Recipe, recipe_from_dict
from ganaudio.diffaugment import DiffAugment
from ganaudio.errors import TrainingStopped, UserError
from ganaudio.losses import critic_loss, generator_loss, gradient_penalty, r1_penalty
from ganaudio.models import Critic, Generator, check_model_size
from ganaudio.run_folder import RunFolder
from ganaudio.runtime import join_process_group, sync_batch_norms, use_bf16



class TrainingData(Protocol):
    """What training needs of a dataset (ganaudio.data.Dataset is one): tensors, label names
    and the feature statistics a checkpoint keeps for synthesis. Not a data source."""

    samples: torch.Tensor  # (n, 1, H, W) in [-1, 1]
    labels: torch.Tensor  # (n,) label indices
    label_names: list[str]
    feature_state: dict[str, torch.Tensor]


# (samples (n, 1, H, W) in [-1, 1], label indices (n,), file stem without extension) -> None
Preview = Callable[[torch.Tensor, torch.Tensor, Path], None]
# (samples, label indices) -> {"eval/frechet_distance": ..., ...}: evaluate.training_evaluator
Evaluate = Callable[[torch.Tensor, torch.Tensor], dict[str, float]]
BEST_BY = "eval/frechet_distance"  # lower is better
EVAL_SEED = 1  # the same latents at every evaluation, so the figures move with the weights only


def all_finite(values: dict[str, torch.Tensor]) -> torch.Tensor:
    """One boolean tensor, on the values' device: no sync until someone reads it."""
    return torch.stack([torch.isfinite(v.detach()).all() for v in values.values()]).all()


def what_the_data_is(data: DataConfig) -> DataConfig:
    """The data settings that change the samples, without where the files and caches live:
    a run whose data moved can resume (the samples themselves are checked apart)."""
    return dataclasses.replace(data, root=None, cache_dir=None)


def same_tensors(saved: dict[str, torch.Tensor], current: dict[str, torch.Tensor]) -> bool:
    """Feature statistics equal up to float rounding (another machine may sum in another order)."""
    return saved.keys() == current.keys() and all(
        torch.allclose(saved[key].float(), current[key].float(), rtol=1e-4, atol=1e-6) for key in saved)


class Trainer:
    """Builds the models from the dataset, trains them, and writes the run folder."""

    def __init__(self, recipe: Recipe, dataset: TrainingData, run_dir: Path, preview: Preview | None = None,
                 evaluate: Evaluate | None = None):
        self.recipe, self.run, self.preview, self.evaluate = recipe, RunFolder(run_dir), preview, evaluate
        self.train_config = recipe.train
        cfg = recipe.train
        if cfg.threads is not None:
            torch.set_num_threads(cfg.threads)
        self.shard, self.device = join_process_group(cfg.device)
        self.local_batch = self.shard.local_size(cfg.batch_size)
        self.autocast = use_bf16(self.device, cfg.mixed_precision)
        self.label_names = dataset.label_names
        self.feature_state = dataset.feature_state
        self.sample_shape = tuple(dataset.samples.shape[1:])
        self.num_classes = len(dataset.label_names) if recipe.model.conditional else 0
        # Data lives on the training device: FSDD at 64x64 is 45 MB, so batches cost no copies.
        self.samples = dataset.samples.to(self.device)
        self.labels = dataset.labels.to(self.device)

        check_model_size(recipe.model, self.sample_shape, self.num_classes)
        torch.manual_seed(cfg.seed)  # model initialisation is the only use of the global RNG
        layout = torch.channels_last  # oneDNN (CPU) and cuDNN convolutions are fastest in it
        self.generator = Generator(recipe.model, self.sample_shape, self.num_classes).to(self.device, memory_format=layout)
        self.critic = Critic(recipe.model, self.sample_shape, self.num_classes).to(self.device, memory_format=layout)
        self.generator_ema = copy.deepcopy(self.generator).eval().requires_grad_(False)
        # The modules that train: DistributedDataParallel wrappers under torchrun (averaging
        # gradients over the processes), the networks themselves in one process. The penalties
        # and the generator step's critic call use the networks directly (see critic_step).
        self.generator_train, self.critic_train = self.generator, self.critic
        if self.shard.world_size > 1:
            sync_batch_norms(self.generator, self.device)  # the global batch's statistics, as one process
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.generator_train = DistributedDataParallel(self.generator, device_ids=ids, broadcast_buffers=False)
            self.critic_train = DistributedDataParallel(self.critic, device_ids=ids, broadcast_buffers=False)
        # Fused Adam: one kernel for all parameters; 1.03-1.05x faster steps on 2 CPU cores (BENCHMARKS.md).
        self.opt_generator = torch.optim.Adam(self.generator.parameters(), lr=cfg.lr_generator,
                                              betas=(cfg.beta1, cfg.beta2), fused=True)
        self.opt_critic = torch.optim.Adam(self.critic.parameters(), lr=cfg.lr_critic,
                                           betas=(cfg.beta1, cfg.beta2), fused=True)
        self.rng = torch.Generator().manual_seed(cfg.seed)  # batches, z, penalty mixing, augmentation
        self.augment = DiffAugment(cfg.diffaugment_shift, cfg.diffaugment_cutout, self.rng, self.shard)
        self.step = 0
        self.critic_updates = 0  # decides which critic steps compute the lazy penalties
        self.ema_statistics_stale = True  # see refresh_ema_statistics
        self.evaluations: list[dict[str, float]] = []  # one row per evaluation, with its step
        self.best_score, self.best_step = math.inf, None  # BEST_BY and step of best.pt
        self.finite_checks: list[tuple[int, torch.Tensor]] = []  # (step, losses finite) since the last check
        self.skipped_updates = 0  # updates dropped for a NaN or Inf (train.on_nan: skip)
        self.stop_signal: int | None = None  # SIGINT or SIGTERM received during fit()

    @property
    def run_dir(self) -> Path:
        return self.run.path

    # ----- one training step -------------------------------------------------------------
    def random_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """This process's slice of a global batch drawn with replacement."""
        draw = lambda size: torch.randint(len(self.samples), size, generator=self.rng)  # noqa: E731
        index = self.shard.draw(draw, self.local_batch).to(self.device)
        return self.samples[index], self.labels[index]

    def random_latents(self, count: int) -> torch.Tensor:
        draw = lambda size: torch.randn(size, generator=self.rng)  # noqa: E731
        return self.shard.draw(draw, count, self.generator.latent_dim).to(self.device)

    def critic_step(self) -> dict[str, torch.Tensor]:
        cfg = self.train_config
        real, labels = self.random_batch()
        cond = labels if self.num_classes else None
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.autocast):
            with torch.no_grad():
                fake = self.generator(self.random_latents(len(real)), cond)
            # The critic only ever sees augmented inputs; the penalties below too (as DiffAugment).
            real, fake = self.augment(real), self.augment(fake)
            # Real and fake in one call: one pass through DDP, and larger matrix products.
            both = self.critic_train(torch.cat([real, fake]), None if cond is None else torch.cat([cond, cond]))
            losses = critic_loss(cfg.loss, *both.float().chunk(2))
        total = losses.pop("total")
        self.critic_updates += 1
        if self.critic_updates % cfg.penalty_every == 0:
            # The penalties call the critic itself, not its DDP wrapper: their gradients join the
            # same backward pass, whose gradients DDP averages once.
            scores = lambda x: self.critic(x, cond)  # noqa: E731  (labels bound in)
            if cfg.loss == "wgan-gp" and cfg.gp_weight > 0:
                mix = self.shard.draw(lambda size: torch.rand(size, generator=self.rng), len(real), 1, 1, 1)
                penalty = gradient_penalty(scores, real, fake, mix.to(self.device))
                total = total + cfg.gp_weight * cfg.penalty_every * penalty
                losses["critic/gp"] = penalty.detach()
            if cfg.r1_weight > 0:
                penalty = r1_penalty(scores, real)
                total = total + cfg.r1_weight * cfg.penalty_every * penalty
                losses["critic/r1"] = penalty.detach()
        self.opt_critic.zero_grad(set_to_none=True)
        total.backward()
        self.apply_update(self.opt_critic, total)
        return {"critic/loss": total.detach(), **losses}

    def generator_step(self) -> dict[str, torch.Tensor]:
        _, labels = self.random_batch()  # labels drawn from the data's class balance
        cond = labels if self.num_classes else None
        # Frozen before its forward pass, so the backward pass skips the critic's weight gradients.
        self.critic.requires_grad_(False)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.autocast):
            fake = self.augment(self.generator_train(self.random_latents(len(labels)), cond))
            # The critic itself: its gradients are not wanted here, so DDP must not wait for them.
            losses = generator_loss(self.train_config.loss, self.critic(fake, cond).float())
        total = losses.pop("total")
        self.opt_generator.zero_grad(set_to_none=True)
        total.backward()
        self.critic.requires_grad_(True)
        self.apply_update(self.opt_generator, total)
        return {"gen/loss": total.detach(), **losses}

    def apply_update(self, optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> None:
        """optimizer.step(), except that with train.on_nan: skip an update whose loss or
        gradients are NaN or Inf on any process is dropped and counted (a device sync)."""
        if self.train_config.on_nan == "skip":
            gradients = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
            finite = bool(torch.isfinite(loss)) and bool(torch.nn.utils.get_total_norm(gradients).isfinite())
            if self.shard.agree(not finite, self.device):
                self.skipped_updates += 1
                optimizer.zero_grad(set_to_none=True)
                return
        optimizer.step()

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

    def train_step(self) -> dict[str, torch.Tensor]:
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
        """Train up to train.steps (or train.max_minutes) and return the last checkpoint.

        SIGINT and SIGTERM end it after the current step with a checkpoint, and a NaN or Inf
        loss (train.on_nan: stop) ends it naming the step; both raise TrainingStopped."""
        cfg = self.train_config
        main = self.shard.is_main
        if main:
            self.run.prepare()
        started = time.perf_counter()
        last_checkpoint = None
        with contextlib.ExitStack() as stack:
            stack.enter_context(self.stop_on_signals())
            log = stack.enter_context(self.run.metrics_log(resumed=self.step > 0)) if main else None
            board = stack.enter_context(self.run.tensorboard()) if main else None
            bar = stack.enter_context(tqdm(total=cfg.steps, initial=self.step, desc="training", unit="step",
                                           dynamic_ncols=True, disable=not main))
            while self.step < cfg.steps:
                step_metrics = self.train_step()
                self.finite_checks.append((self.step, all_finite(step_metrics)))
                bar.update(1)
                checkpoint_due = self.step % cfg.checkpoint_every == 0 or self.step == cfg.steps
                sample_due = self.step % cfg.sample_every == 0
                eval_due = bool(cfg.eval_every) and self.step % cfg.eval_every == 0
                # Metrics become numbers (a device sync, and an all-reduce under torchrun) only
                # on the steps that log or use them; every process agrees on stopping then.
                sync = self.step % cfg.log_every == 0 or checkpoint_due or sample_due or eval_due
                out_of_time = False
                if sync:
                    self.check_finite()
                    self.check_weights()
                    metrics = self.shard.mean(step_metrics)
                    elapsed = time.perf_counter() - started
                    out_of_time = self.shard.agree(cfg.max_minutes is not None and elapsed > 60 * cfg.max_minutes,
                                                   self.device)
                    if main:
                        if cfg.on_nan == "skip":
                            metrics["train/skipped_updates"] = float(self.skipped_updates)
                        self.log_metrics(log, board, {"step": self.step, "seconds": round(elapsed, 2), **metrics})
                        bar.set_postfix({"D": f"{metrics['critic/loss']:.3f}", "G": f"{metrics['gen/loss']:.3f}",
                                         "W": f"{metrics['critic/wdist']:.3f}"}, refresh=False)
                # One process decides alone; several agree on the synced steps only.
                signalled = (sync or self.shard.world_size == 1) and self.shard.agree(self.stop_signal is not None,
                                                                                       self.device)
                # Signalled: straight to the checkpoint (schedulers kill soon after their signal).
                if main and sample_due and not signalled:
                    self.write_preview()
                if main and eval_due and self.evaluate is not None and not signalled:
                    row = self.run_evaluation(time.perf_counter() - started)
                    self.log_metrics(log, board, row)
                    bar.write(f"step {self.step}: " + ", ".join(f"{k[5:]} {v:.3g}" for k, v in row.items() if k.startswith("eval/")))
                if checkpoint_due or out_of_time or signalled:
                    last_checkpoint = self.save()
                if signalled:
                    name = signal.Signals(self.stop_signal or signal.SIGTERM).name
                    raise TrainingStopped(f"{name} at step {self.step}: saved {last_checkpoint}; resume with: "
                                          f"{self.run.resume_command()}",
                                          exit_code=128 + int(self.stop_signal or signal.SIGTERM))
                if out_of_time:
                    break
        if main and self.step % cfg.sample_every:
            self.write_preview()
        return last_checkpoint or self.save()

    @contextlib.contextmanager
    def stop_on_signals(self) -> Iterator[None]:
        """SIGINT (Ctrl-C) and SIGTERM (kill, a scheduler's preemption) ask the loop to stop
        after the current step with a checkpoint; a second one acts at once (checkpoints are
        written atomically, so that loses nothing saved). Only the main thread can set handlers."""
        self.stop_signal = None
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}

        def ask_to_stop(number: int, frame: Any) -> None:
            self.stop_signal = number
            for other, handler in previous.items():
                signal.signal(other, handler)

        for number in previous:
            signal.signal(number, ask_to_stop)
        try:
            yield
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)

    def check_finite(self) -> None:
        """With train.on_nan: stop, end the run at the first step since the last check whose
        losses were NaN or Inf on any process; the checkpoints written so far are all finite."""
        if not self.finite_checks:
            return
        steps = [step for step, _ in self.finite_checks]
        finite = self.shard.all_true(torch.stack([flag for _, flag in self.finite_checks]))
        self.finite_checks = []
        if self.train_config.on_nan == "stop" and not bool(finite.all()):
            first = steps[int((~finite).nonzero()[0])]
            raise TrainingStopped(f"training diverged at step {first}: a loss was NaN or Inf; {self.last_good()}; "
                                  f"resume from it with --resume, perhaps with lower learning rates, or set "
                                  f"train.on_nan: skip to skip such updates")

    def check_weights(self) -> None:
        """End the run if any weight or batch-norm statistic of the three networks is NaN or Inf
        (identical on every process, so each checks its own: no collective)."""
        tensors = {f"{net}.{name}": value for net in ("generator", "generator_ema", "critic")
                   for name, value in getattr(self, net).state_dict().items() if value.is_floating_point()}
        if not bool(all_finite(tensors)):
            raise TrainingStopped(f"training diverged by step {self.step}: the weights hold NaN or Inf; "
                                  f"{self.last_good()}; resume from it with --resume, perhaps with lower learning rates")

    def last_good(self) -> str:
        found = self.run.checkpoints()
        return f"the last good checkpoint is {found[-1]}" if found else "no checkpoint was written before it"

    @staticmethod
    def log_metrics(log: Any, board: Any, row: dict[str, float]) -> None:
        """One metrics.jsonl line (with its step and seconds) and the same scalars in TensorBoard."""
        log.write(json.dumps(row) + "\n")
        log.flush()
        if board is not None:
            for name, value in row.items():
                if name not in ("step", "seconds"):
                    board.add_scalar(name, value, row["step"])

    def run_evaluation(self, elapsed: float) -> dict[str, float]:
        """Score the EMA generator; keep it as best.pt when its Frechet distance is the lowest
        so far. Returns the metrics.jsonl row."""
        samples, labels = self.sample(self.train_config.eval_samples, seed=EVAL_SEED)
        row = {"step": self.step, "seconds": round(elapsed, 2), **self.evaluate(samples, labels)}
        # A resumed run evaluates a step again when best.pt was newer than its checkpoint.
        self.evaluations = [r for r in self.evaluations if r["step"] != self.step] + [row]
        if row[BEST_BY] < self.best_score:
            self.best_score, self.best_step = row[BEST_BY], self.step
            self.run.save_best(self.step, {**self.payload(), "evaluation": row})
        self.run.plot_evaluation(sorted(self.evaluations, key=lambda r: r["step"]))
        return row

    def write_preview(self) -> None:
        if self.preview is not None:
            samples, labels = self.sample(self.recipe.output.grid_samples)
            self.preview(samples, labels, self.run.sample_stem(self.step))

    # ----- checkpoints -------------------------------------------------------------------
    def save(self) -> Path:
        """Write a checkpoint (the main process only; the others return its path), never one
        with NaN or Inf losses since the last check or in the weights."""
        self.check_finite()
        self.check_weights()
        if not self.shard.is_main:
            return self.run.checkpoint(self.step)
        return self.run.save_checkpoint(self.step, self.payload(), keep=self.train_config.keep_checkpoints)

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
            "skipped_updates": self.skipped_updates,
            "recipe": self.recipe.to_dict(),
            "recipe_name": self.recipe.name,
            "feature_state": self.feature_state,
            "label_names": list(self.label_names),
            "sample_shape": list(self.sample_shape),
            "num_classes": self.num_classes,
        }

    def resume(self) -> int:
        """Continue from the run folder's newest checkpoint; returns its step."""
        found = self.run.checkpoints()
        if not found:
            raise UserError(f"{self.run_dir}: no checkpoint to resume from")
        state = load_checkpoint(found[-1])
        saved = recipe_from_dict(state["recipe"], name=state["recipe_name"])
        # Griffin-Lim settings only shape previews and synthesis, not what is trained.
        inversion = {key: getattr(self.recipe.features, key) for key in ("griffin_lim_iters", "griffin_lim_momentum")}
        saved_features = dataclasses.replace(saved.features, **inversion)
        if ((saved.model, saved_features, what_the_data_is(saved.data))
                != (self.recipe.model, self.recipe.features, what_the_data_is(self.recipe.data))):
            raise UserError(f"{found[-1]}: was trained with other data, feature or model settings "
                            f"than this recipe; resume with the run's own recipe.yaml")
        # The data may have moved (data.root is not compared); it must still be the same data.
        if state["label_names"] != list(self.label_names) or not same_tensors(state["feature_state"],
                                                                              self.feature_state):
            raise UserError(f"{found[-1]}: the data at {self.recipe.data.root or 'its default place'} is not the "
                            f"data this run trained on (other labels or feature statistics)")
        try:
            self.generator.load_state_dict(state["generator"])
            self.generator_ema.load_state_dict(state["generator_ema"])
            self.critic.load_state_dict(state["critic"])
            self.opt_generator.load_state_dict(state["opt_generator"])
            self.opt_critic.load_state_dict(state["opt_critic"])
            self.rng.set_state(state["rng"])
            # Adam's state carries the saved lr and betas; the recipe's win, so a run resumed
            # with lower learning rates (after a NaN, say) really uses them.
            cfg = self.train_config
            for optimizer, lr in ((self.opt_generator, cfg.lr_generator), (self.opt_critic, cfg.lr_critic)):
                for group in optimizer.param_groups:
                    group["lr"], group["betas"] = lr, (cfg.beta1, cfg.beta2)
        except (KeyError, RuntimeError, ValueError) as err:
            raise UserError(f"{found[-1]}: its weights do not fit the model its recipe describes "
                            f"({str(err).splitlines()[0][:120]})") from None
        self.step = int(state["step"])
        self.critic_updates = int(state["critic_updates"])
        self.skipped_updates = int(state.get("skipped_updates", 0))
        self.ema_statistics_stale = False  # saved after a refresh
        if self.shard.is_main:
            self.run.trim_metrics(self.step)
        self.restore_evaluations()
        return self.step

    def restore_evaluations(self) -> None:
        """Bring back the evaluation history (for the plot) and the best score (for best.pt)."""
        rows = self.run.metrics()
        self.evaluations = [row for row in rows if BEST_BY in row and row["step"] <= self.step]
        best = self.run.best_file
        if best.is_file():
            # A best.pt newer than the checkpoint resumed from (the run went on after its last
            # checkpoint) is kept: it is still the best model this run has made.
            state = load_checkpoint(best)
            self.best_score, self.best_step = float(state["evaluation"][BEST_BY]), int(state["step"])
            if self.best_step > self.step:
                self.evaluations.append(dict(state["evaluation"]))
