"""The WGAN's training state and its step, for the shared loop (loop.py) to run.

`GanState` is what a checkpoint holds: generator, critic, the EMA generator the samples come
from, their optimizers, the RNG and the counters. `GanStep` is one update of it: critic steps,
a generator step, the EMA. Both see only tensors of shape (n, 1, height, width) in [-1, 1] and
their labels, so this module imports no audio code.

Under `torchrun` the step trains with DistributedDataParallel (runtime.py): every process holds
the data and takes its slice of each global batch.
"""

from __future__ import annotations

import copy
from typing import Any, Protocol

import torch
from torch.nn.parallel import DistributedDataParallel

from ganaudio.config import Recipe
from ganaudio.diffaugment import DiffAugment
from ganaudio.loop import apply_update
from ganaudio.errors import UserError
from ganaudio.losses import critic_loss, generator_loss, gradient_penalty, mode_seeking_penalty, r1_penalty
from ganaudio.models import Critic, Generator, check_minibatch_groups, check_model_size
from ganaudio.runtime import Shard, sync_batch_norms

NETWORKS = ("generator", "generator_ema", "critic")
OPTIMIZERS = ("opt_generator", "opt_critic")


class TrainingData(Protocol):
    """What training needs of a dataset (ganaudio.data.Dataset is one): tensors, label names
    and the feature statistics a checkpoint keeps for synthesis. Not a data source."""

    samples: torch.Tensor  # (n, 1, H, W) in [-1, 1]
    labels: torch.Tensor  # (n,) label indices
    label_names: list[str]
    feature_state: dict[str, torch.Tensor]


class GanState:
    """Networks, optimizers, RNG and counters of one GAN training run, on `device`, and what
    synthesis needs to use them (`about`: recipe, labels, feature statistics, shapes)."""

    def __init__(self, recipe: Recipe, data: TrainingData, shard: Shard, device: torch.device, autocast: bool):
        cfg = recipe.train
        self.device, self.autocast = device, autocast
        sample_shape = tuple(data.samples.shape[1:])
        self.num_classes = num_classes = len(data.label_names) if recipe.model.conditional else 0
        self.about = {"recipe": recipe.to_dict(), "recipe_name": recipe.name, "feature_state": data.feature_state,
                      "label_names": list(data.label_names), "sample_shape": list(sample_shape),
                      "num_classes": num_classes}
        check_model_size(recipe.model, sample_shape, num_classes)
        torch.manual_seed(cfg.seed)  # model initialisation is the only use of the global RNG
        layout = torch.channels_last  # oneDNN (CPU) and cuDNN convolutions are fastest in it
        self.generator = Generator(recipe.model, sample_shape, num_classes).to(device, memory_format=layout)
        self.critic = Critic(recipe.model, sample_shape, num_classes).to(device, memory_format=layout)
        self.generator_ema = copy.deepcopy(self.generator).eval().requires_grad_(False)
        # The modules that train: DistributedDataParallel wrappers under torchrun (averaging
        # gradients over the processes), the networks themselves in one process. The penalties
        # and the generator step's critic call use the networks directly (see GanStep).
        self.generator_train, self.critic_train = self.generator, self.critic
        if shard.world_size > 1:
            sync_batch_norms(self.generator, device)  # the global batch's statistics, as one process
            ids = [device.index] if device.type == "cuda" else None
            self.generator_train = DistributedDataParallel(self.generator, device_ids=ids, broadcast_buffers=False)
            self.critic_train = DistributedDataParallel(self.critic, device_ids=ids, broadcast_buffers=False)
        # Fused Adam: one kernel for all parameters; 1.03-1.05x faster steps on 2 CPU cores (BENCHMARKS.md).
        self.opt_generator = torch.optim.Adam(self.generator.parameters(), lr=cfg.lr_generator,
                                              betas=(cfg.beta1, cfg.beta2), fused=True)
        self.opt_critic = torch.optim.Adam(self.critic.parameters(), lr=cfg.lr_critic,
                                           betas=(cfg.beta1, cfg.beta2), fused=True)
        self.rng = torch.Generator().manual_seed(cfg.seed)  # batches, z, penalty mixing, augmentation
        self.step = 0  # generator updates
        self.critic_updates = 0  # decides which critic steps compute the lazy penalties
        self.skipped_updates = 0  # updates dropped for a NaN or Inf (train.on_nan: skip)
        self.ema_statistics_stale = True  # see refresh_ema_statistics

    # ----- checkpoints -------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Networks, optimizers, RNG and counters (the EMA's batch-norm statistics refreshed),
        and `about`."""
        self.refresh_ema_statistics()
        return {**self.about, **{name: getattr(self, name).state_dict() for name in NETWORKS + OPTIMIZERS},
                "rng": self.rng.get_state(), "step": self.step, "critic_updates": self.critic_updates,
                "skipped_updates": self.skipped_updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """The inverse of state_dict; KeyError, RuntimeError or ValueError when it does not fit."""
        for name in NETWORKS + OPTIMIZERS:
            getattr(self, name).load_state_dict(state[name])
        self.rng.set_state(state["rng"])
        self.step = int(state["step"])
        self.critic_updates = int(state["critic_updates"])
        self.skipped_updates = int(state.get("skipped_updates", 0))
        self.ema_statistics_stale = False  # saved after a refresh

    def set_optimizer_settings(self, lr_generator: float, lr_critic: float, betas: tuple[float, float]) -> None:
        """Adam's saved state carries the saved lr and betas; a recipe's win on resume, so a run
        resumed with lower learning rates (after a NaN, say) really uses them."""
        for optimizer, lr in ((self.opt_generator, lr_generator), (self.opt_critic, lr_critic)):
            for group in optimizer.param_groups:
                group["lr"], group["betas"] = lr, betas

    def weights(self) -> dict[str, torch.Tensor]:
        return {f"{net}.{name}": value for net in NETWORKS
                for name, value in getattr(self, net).state_dict().items() if value.is_floating_point()}

    # ----- samples from the EMA generator ------------------------------------------------
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


class GanStep:
    """One training step of a GanState: train.critic_steps critic updates, one generator
    update, the EMA. Calling it returns a flat dict of named scalar tensors (no device sync)."""

    def __init__(self, state: GanState, recipe: Recipe, samples: torch.Tensor, labels: torch.Tensor, shard: Shard):
        self.state, self.shard = state, shard
        self.train_config = recipe.train
        self.samples, self.labels = samples, labels  # on the training device
        self.local_batch = shard.local_size(recipe.train.batch_size)
        check_minibatch_groups(recipe.model, self.local_batch)
        if recipe.train.mode_seeking_weight and self.local_batch % 2:
            raise UserError(f"train.mode_seeking_weight: pairs of samples need an even batch on each process, "
                            f"not {self.local_batch} (train.batch_size over the processes)")
        self.augment = DiffAugment(recipe.train.diffaugment_shift, recipe.train.diffaugment_cutout, state.rng, shard)

    def __call__(self) -> dict[str, torch.Tensor]:
        # Critic updates: several per generator update (WGAN needs a near-optimal critic).
        critic_metrics = [self.critic_step() for _ in range(self.train_config.critic_steps)]
        keys = {k for m in critic_metrics for k in m}  # lazy penalties appear on some steps only
        metrics = {k: sum(m[k] for m in critic_metrics if k in m) / sum(k in m for m in critic_metrics)
                   for k in sorted(keys)}
        metrics.update(self.generator_step())
        self.state.step += 1
        self.update_ema()  # the EMA generator is the one samples come from
        return metrics

    def random_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """This process's slice of a global batch drawn with replacement."""
        draw = lambda size: torch.randint(len(self.samples), size, generator=self.state.rng)  # noqa: E731
        index = self.shard.draw(draw, self.local_batch).to(self.state.device)
        return self.samples[index], self.labels[index]

    def random_latents(self, count: int) -> torch.Tensor:
        draw = lambda size: torch.randn(size, generator=self.state.rng)  # noqa: E731
        return self.shard.draw(draw, count, self.state.generator.latent_dim).to(self.state.device)

    def critic_step(self) -> dict[str, torch.Tensor]:
        cfg, s = self.train_config, self.state
        real, labels = self.random_batch()
        cond = labels if s.num_classes else None
        with torch.autocast(s.device.type, dtype=torch.bfloat16, enabled=s.autocast):
            with torch.no_grad():
                fake = s.generator(self.random_latents(len(real)), cond)
            # The critic only ever sees augmented inputs; the penalties below too (as DiffAugment).
            real, fake = self.augment(real), self.augment(fake)
            # Real and fake in one call: one pass through DDP, and larger matrix products.
            both = s.critic_train(torch.cat([real, fake]), None if cond is None else torch.cat([cond, cond]))
            losses = critic_loss(cfg.loss, *both.float().chunk(2))
        total = losses.pop("total")
        s.critic_updates += 1
        if s.critic_updates % cfg.penalty_every == 0:
            # The penalties call the critic itself, not its DDP wrapper: their gradients join the
            # same backward pass, whose gradients DDP averages once.
            scores = lambda x: s.critic(x, cond)  # noqa: E731  (labels bound in)
            if cfg.loss == "wgan-gp" and cfg.gp_weight > 0:
                mix = self.shard.draw(lambda size: torch.rand(size, generator=s.rng), len(real), 1, 1, 1)
                penalty = gradient_penalty(scores, real, fake, mix.to(s.device))
                total = total + cfg.gp_weight * cfg.penalty_every * penalty
                losses["critic/gp"] = penalty.detach()
            if cfg.r1_weight > 0:
                penalty = r1_penalty(scores, real)
                total = total + cfg.r1_weight * cfg.penalty_every * penalty
                losses["critic/r1"] = penalty.detach()
        s.opt_critic.zero_grad(set_to_none=True)
        total.backward()
        apply_update(s.opt_critic, total, s, cfg.on_nan, self.shard, s.device)
        return {"critic/loss": total.detach(), **losses}

    def generator_step(self) -> dict[str, torch.Tensor]:
        s, weight = self.state, self.train_config.mode_seeking_weight
        _, labels = self.random_batch()  # labels drawn from the data's class balance
        if weight:  # the second half asks for the same labels as the first: pairs for mode seeking
            labels = labels[:len(labels) // 2].repeat(2)
        cond = labels if s.num_classes else None
        latents = self.random_latents(len(labels))
        # Frozen before its forward pass, so the backward pass skips the critic's weight gradients.
        s.critic.requires_grad_(False)
        with torch.autocast(s.device.type, dtype=torch.bfloat16, enabled=s.autocast):
            fake = s.generator_train(latents, cond)
            # The critic itself: its gradients are not wanted here, so DDP must not wait for them.
            losses = generator_loss(self.train_config.loss, s.critic(self.augment(fake), cond).float())
        total = losses.pop("total")
        if weight:
            seeking = mode_seeking_penalty(fake, latents)
            total = total + weight * seeking.pop("total")
            losses.update(seeking)
        s.opt_generator.zero_grad(set_to_none=True)
        total.backward()
        s.critic.requires_grad_(True)
        apply_update(s.opt_generator, total, s, self.train_config.on_nan, self.shard, s.device)
        return {"gen/loss": total.detach(), **losses}

    @torch.no_grad()
    def update_ema(self) -> None:
        cfg, s = self.train_config, self.state
        decay = 0.0 if s.step <= cfg.ema_start else cfg.ema_decay
        for ema, live in zip(s.generator_ema.parameters(), s.generator.parameters()):
            ema.lerp_(live, 1 - decay)
        s.ema_statistics_stale = True
