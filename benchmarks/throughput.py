"""Training throughput: ganaudio's trainer against a straightforward loop, where a step's time
goes, how it grows with spectrogram and batch size, and a training run's peak memory.

    OMP_WAIT_POLICY=PASSIVE python benchmarks/throughput.py --recipe digits --data ../shared/data/fsdd/recordings
    OMP_WAIT_POLICY=PASSIVE python benchmarks/throughput.py --recipe mnist --data ../shared/data/mnist

Sections (--sections, all by default):
- reference: samples/s of the Trainer against a reference loop that differs from it in
  engineering only: the same networks, loss, penalty schedule (lazy R1 every
  train.penalty_every critic steps, scaled), precision (bf16 only where the hardware has it,
  as the trainer) and features computed once, but written the way single-file GAN scripts
  are: plain Adam, real and fake through the critic in two calls, every loss read with .item()
  each step, default memory layout. Then the recipe's own choices, each as a separate row of
  the Trainer with that one setting changed back (R1 on every critic step; WGAN-GP in place
  of hinge + R1; fp32 where bf16 is native). Those are recipe decisions whose quality cost or
  gain is measured elsewhere, not engineering speed-ups. DiffAugment is off in both (the
  bundled recipes do not use it). Rows take turns (--rounds rounds of --steps steps each) so a
  noisy neighbour hits them alike; the median round is reported.
- profile: torch.profiler's table of the operators that took the most CPU time over --steps
  trainer steps.
- phases: the milliseconds of one Trainer step by phase (data, critic update, penalty,
  generator update, EMA), each the best of --steps calls.
- sizes: step time at 64x64, 64x128 and 128x128 random samples (networks sized from them) and
  at batch 16 to 128.
- compile: the critic and generator forward and backward passes of a step (no penalty: the
  compiled graphs cannot take the penalty's double backward) in eager mode and under
  torch.compile, and the compile time.
- memory: peak resident memory (CPU) of `ganaudio train` for --memory-steps steps in a child
  process, or peak allocated GPU memory with --device cuda, where --largest-batch also doubles
  the batch until it no longer fits.
Samples/s counts real samples through the critic: batch_size x critic_steps per generator step.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from ganaudio.config import Recipe, load_recipe
from ganaudio.data import Dataset, DataSummary, load_dataset, resolve_clip_seconds
from ganaudio.losses import critic_loss, generator_loss, gradient_penalty, r1_penalty
from ganaudio.models import Critic, Generator
from ganaudio.runtime import use_bf16
from ganaudio.train import Trainer


class ReferenceLoop:
    """One generator step of the recipe's networks, loss and penalty schedule, written plainly."""

    def __init__(self, recipe: Recipe, dataset: Dataset, device: torch.device, fused_adam: bool = False):
        cfg = recipe.train
        self.cfg, self.device = cfg, device
        self.bf16 = use_bf16(device, cfg.mixed_precision)  # the trainer's precision
        self.samples, self.labels = dataset.samples.to(device), dataset.labels.to(device)
        num_classes = dataset.num_classes if recipe.model.conditional else 0
        torch.manual_seed(cfg.seed)
        self.generator = Generator(recipe.model, dataset.sample_shape, num_classes).to(device)
        self.critic = Critic(recipe.model, dataset.sample_shape, num_classes).to(device)
        options = dict(betas=(cfg.beta1, cfg.beta2), fused=True if fused_adam else None)
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=cfg.lr_generator, **options)
        self.opt_d = torch.optim.Adam(self.critic.parameters(), lr=cfg.lr_critic, **options)
        self.conditional = num_classes > 0
        self.critic_updates = 0
        self.log: list[dict[str, float]] = []

    def batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        index = torch.randint(len(self.samples), (self.cfg.batch_size,), device=self.device)
        return self.samples[index], self.labels[index]

    def step(self) -> None:
        cfg, autocast = self.cfg, torch.autocast(self.device.type, torch.bfloat16, enabled=self.bf16)
        for _ in range(cfg.critic_steps):
            real, labels = self.batch()
            cond = labels if self.conditional else None
            with autocast:
                with torch.no_grad():
                    fake = self.generator(torch.randn(len(real), self.generator.latent_dim, device=self.device), cond)
                losses = critic_loss(cfg.loss, self.critic(real, cond).float(), self.critic(fake, cond).float())
            total = losses["total"]
            self.critic_updates += 1
            if self.critic_updates % cfg.penalty_every == 0:
                scores = lambda x: self.critic(x, cond)  # noqa: E731
                if cfg.loss == "wgan-gp" and cfg.gp_weight > 0:
                    total = total + cfg.gp_weight * cfg.penalty_every * gradient_penalty(scores, real, fake)
                if cfg.r1_weight > 0:
                    total = total + cfg.r1_weight * cfg.penalty_every * r1_penalty(scores, real)
            self.opt_d.zero_grad()
            total.backward()
            self.opt_d.step()
            self.log.append({"critic/loss": total.item(), "critic/wdist": losses["critic/wdist"].item()})
        labels = self.labels[torch.randint(len(self.labels), (self.cfg.batch_size,), device=self.device)]
        cond = labels if self.conditional else None
        with autocast:
            fake = self.generator(torch.randn(len(labels), self.generator.latent_dim, device=self.device), cond)
            total = generator_loss(cfg.loss, self.critic(fake, cond).float())["total"]
        self.opt_g.zero_grad()
        total.backward()
        self.opt_g.step()
        self.log.append({"gen/loss": total.item()})


# The recipe's choices, each undone alone on the Trainer: (row name, overrides, applies?).
RECIPE_CHOICES = [
    ("R1 on every critic step (recipe: every train.penalty_every)", lambda r: {"penalty_every": 1},
     lambda r, bf16: r.train.r1_weight > 0 and r.train.penalty_every > 1),
    ("WGAN-GP, gradient penalty 10 (recipe: hinge + R1), same schedule",
     lambda r: {"loss": "wgan-gp", "gp_weight": 10.0, "r1_weight": 0.0}, lambda r, bf16: r.train.loss == "hinge"),
    ("fp32 (recipe: bf16 autocast)", lambda r: {"mixed_precision": False}, lambda r, bf16: bf16),
]


def wait_for_device() -> None:
    """Let queued GPU work finish before a clock is read (a no-op on CPU)."""
    if torch.cuda.is_initialized():
        torch.cuda.synchronize()


def time_rounds(rows: dict[str, object], steps: int, rounds: int) -> dict[str, float]:
    """Median seconds per generator step of each row's `step()`, rows taking turns."""
    for step in rows.values():
        for _ in range(3):  # warm-up: oneDNN picks its kernels on the first calls
            step()
    times: dict[str, list[float]] = {name: [] for name in rows}
    for _ in range(rounds):
        for name, step in rows.items():
            wait_for_device()
            started = time.perf_counter()
            for _ in range(steps):
                step()
            wait_for_device()
            times[name].append((time.perf_counter() - started) / steps)
    return {name: statistics.median(values) for name, values in times.items()}


def reference_section(recipe: Recipe, dataset: Dataset, args: argparse.Namespace) -> None:
    cfg = recipe.train
    device = torch.device(args.device)
    rows: dict[str, object] = {
        "reference loop (same recipe settings, written plainly)": ReferenceLoop(recipe, dataset, device).step,
        "reference loop + fused Adam": ReferenceLoop(recipe, dataset, device, fused_adam=True).step,
    }
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(recipe, dataset, Path(run_dir) / "recipe")
        rows["ganaudio Trainer, the recipe as it is"] = trainer.train_step
        choices = []
        for name, change, applies in RECIPE_CHOICES:
            if applies(recipe, trainer.autocast):
                changed = dataclasses.replace(recipe, train=dataclasses.replace(cfg, **change(recipe)))
                rows[f"Trainer, {name}"] = Trainer(changed, dataset, Path(run_dir) / str(len(choices))).train_step
                choices.append(name)
        seconds = time_rounds(rows, args.steps, args.rounds)
    per_step = cfg.batch_size * cfg.critic_steps
    base = seconds["reference loop (same recipe settings, written plainly)"]
    ours = seconds["ganaudio Trainer, the recipe as it is"]
    print(f"\n### {recipe.name}: trainer against the reference loop (median of {args.rounds} rounds of {args.steps} steps)")
    print(f"bf16: {'on' if trainer.autocast else 'off (this hardware has no native bf16)'}")
    print("| loop | ms per generator step | real samples/s | speed relative to the reference loop | "
          "relative to the recipe |")
    print("|---|---:|---:|---:|---:|")
    for name, value in seconds.items():
        print(f"| {name} | {1000 * value:.0f} | {per_step / value:.0f} | {base / value:.2f}x | {ours / value:.2f}x |")


def profile_section(recipe: Recipe, dataset: Dataset, args: argparse.Namespace) -> None:
    from torch.profiler import ProfilerActivity, profile

    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(recipe, dataset, run_dir)
        for _ in range(5):
            trainer.train_step()
        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if args.device == "cuda" else [])
        with profile(activities=activities) as profiler:
            for _ in range(args.steps):
                trainer.train_step()
            wait_for_device()
    print(f"\n### {recipe.name}: operators by CPU time over {args.steps} trainer steps (torch.profiler)")
    print(profiler.key_averages().table(sort_by="self_cpu_time_total", row_limit=15, max_name_column_width=40))


def best_ms(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        wait_for_device()
        started = time.perf_counter()
        fn()
        wait_for_device()
        times.append(time.perf_counter() - started)
    return 1000 * min(times)


def phases_section(recipe: Recipe, dataset: Dataset, args: argparse.Namespace) -> None:
    cfg = recipe.train
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(recipe, dataset, run_dir)
        data = best_ms(trainer.train_step.random_batch, args.steps)
        trainer.train_step.train_config = dataclasses.replace(cfg, penalty_every=1)
        with_penalty = best_ms(trainer.train_step.critic_step, args.steps)
        trainer.train_step.train_config = dataclasses.replace(cfg, gp_weight=0.0, r1_weight=0.0)
        critic = best_ms(trainer.train_step.critic_step, args.steps)
        trainer.train_step.train_config = cfg
        generator = best_ms(trainer.train_step.generator_step, args.steps)
        ema = best_ms(trainer.train_step.update_ema, args.steps)
        measured = best_ms(trainer.train_step, args.steps)
    penalty = max(with_penalty - critic, 0.0)
    print(f"\n### {recipe.name}: one trainer step by phase (best of {args.steps})")
    print("| phase | ms per generator step |")
    print("|---|---:|")
    print(f"| data (batch draw; inside the phases below) | {cfg.critic_steps * data:.1f} |")
    print(f"| critic updates without penalty ({cfg.critic_steps} x {critic:.0f} ms) | {cfg.critic_steps * critic:.0f} |")
    print(f"| penalty ({penalty:.0f} ms, every {cfg.penalty_every} critic updates) | "
          f"{cfg.critic_steps * penalty / cfg.penalty_every:.0f} |")
    print(f"| generator update | {generator:.0f} |")
    print(f"| EMA update | {ema:.1f} |")
    print(f"| measured train_step | {measured:.0f} |")


def random_dataset(shape: tuple[int, int], like: Dataset, count: int = 512) -> Dataset:
    """Random samples of another size with the real data's labels, for timing only."""
    samples = torch.rand(count, 1, *shape, generator=torch.Generator().manual_seed(0)) * 2 - 1
    labels = torch.arange(count) % max(like.num_classes, 1)
    return Dataset(samples=samples, labels=labels, label_names=like.label_names, split="train",
                   summary=DataSummary(source="random"), feature_state={})


def sizes_section(recipe: Recipe, dataset: Dataset, args: argparse.Namespace) -> None:
    print(f"\n### {recipe.name}: ms per generator step by sample size and batch size (median of {args.rounds} rounds "
          f"of {max(2, args.steps // 2)} steps)")
    batches = (16, 32, 64, 128)
    print("| sample size | " + " | ".join(f"batch {b}" for b in batches) + " |")
    print("|---|" + "---:|" * len(batches))
    for shape in ((64, 64), (64, 128), (128, 128)):
        cells = []
        for batch in batches:
            sized = dataclasses.replace(recipe, train=dataclasses.replace(recipe.train, batch_size=batch))
            with tempfile.TemporaryDirectory() as run_dir:
                trainer = Trainer(sized, random_dataset(shape, dataset), run_dir)
                seconds = time_rounds({"step": trainer.train_step}, max(2, args.steps // 2), args.rounds)["step"]
            cells.append(f"{1000 * seconds:.0f}")
        print(f"| {shape[0]}x{shape[1]} | " + " | ".join(cells) + " |", flush=True)


def compile_section(recipe: Recipe, dataset: Dataset, args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(recipe, dataset, run_dir)
    real, labels = trainer.train_step.random_batch()
    z = trainer.train_step.random_latents(len(real))
    cond = labels if trainer.state.num_classes else None

    def passes(generator: torch.nn.Module, critic: torch.nn.Module):
        def step() -> None:
            with torch.autocast(trainer.device.type, torch.bfloat16, enabled=trainer.autocast):
                scores = critic(torch.cat([real, generator(z, cond)]), None if cond is None else torch.cat([cond, cond]))
            scores.float().sum().backward()
        return step

    eager = passes(trainer.state.generator, trainer.state.critic)
    compiled = passes(torch.compile(trainer.state.generator), torch.compile(trainer.state.critic))
    started = time.perf_counter()
    compiled()
    wait_for_device()
    compile_seconds = time.perf_counter() - started
    seconds = time_rounds({"eager": eager, "torch.compile": compiled}, args.steps, args.rounds)
    print(f"\n### {recipe.name}: torch.compile (forward and backward of generator and critic, batch "
          f"{recipe.train.batch_size}, bf16 {'on' if trainer.autocast else 'off'})")
    print(f"eager {1000 * seconds['eager']:.0f} ms, compiled {1000 * seconds['torch.compile']:.0f} ms "
          f"({seconds['eager'] / seconds['torch.compile']:.2f}x), first compiled call {compile_seconds:.0f} s")


def memory_section(recipe: Recipe, dataset: Dataset, args: argparse.Namespace) -> None:
    print(f"\n### {recipe.name}: peak memory of a training run")
    if args.device == "cuda":
        with tempfile.TemporaryDirectory() as run_dir:
            trainer = Trainer(recipe, dataset, run_dir)
            torch.cuda.reset_peak_memory_stats()
            for _ in range(args.steps):
                trainer.train_step()
            print(f"{torch.cuda.get_device_name()}: peak allocated {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB "
                  f"at batch {recipe.train.batch_size}")
        if args.largest_batch:
            largest_batch(recipe, dataset)
        return
    with tempfile.TemporaryDirectory() as run_dir:
        command = [sys.executable, "-m", "ganaudio", "train", args.recipe, "--out", run_dir,
                   "--set", f"train.steps={args.memory_steps}", "--set", "train.device=cpu", *args.child_args]
        if args.data:
            command += ["--data", args.data]
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # wait4: this child's own peak, not that of every child this process ever had (the
        # compile section's compiler workers would count otherwise).
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        minutes = (time.perf_counter() - started) / 60
        if child.returncode:
            sys.exit(f"training failed with exit code {child.returncode}")
    peak = usage.ru_maxrss / 1024  # KiB on Linux
    print(f"`ganaudio train {args.recipe}` for {args.memory_steps} steps (with its samples, checkpoints and "
          f"evaluations; {minutes:.1f} minutes): peak resident memory {peak:.0f} MiB")


def largest_batch(recipe: Recipe, dataset: Dataset) -> None:
    """Double the batch until a step no longer fits in GPU memory."""
    batch, fits = recipe.train.batch_size, None
    while batch <= 2 ** 16:
        sized = dataclasses.replace(recipe, train=dataclasses.replace(recipe.train, batch_size=batch))
        try:
            with tempfile.TemporaryDirectory() as run_dir:
                trainer = Trainer(sized, dataset, run_dir)
                for _ in range(2):
                    trainer.train_step()
                torch.cuda.synchronize()
            fits = batch
            batch *= 2
        except torch.cuda.OutOfMemoryError:
            break
        finally:
            torch.cuda.empty_cache()
    print(f"largest batch that fits (powers of 2): {fits}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="digits")
    parser.add_argument("--data", help="the recipe's data (FSDD recordings/ or the MNIST folder)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="recipe override, repeatable")
    parser.add_argument("--sections", nargs="+", default=["reference", "profile", "phases", "sizes", "compile", "memory"],
                        choices=["reference", "profile", "phases", "sizes", "compile", "memory"])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--steps", type=int, default=10, help="steps per round (reference, sizes), or repeats (phases)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--memory-steps", type=int, default=1000)
    parser.add_argument("--largest-batch", action="store_true", help="with --device cuda: find the largest batch")
    args = parser.parse_args()
    args.child_args = [arg for override in args.overrides for arg in ("--set", override)]
    recipe = resolve_clip_seconds(load_recipe(args.recipe, [*args.overrides, f"train.device={args.device}"],
                                              data_root=args.data))
    dataset = load_dataset(recipe)
    print(f"{recipe.name}: {len(dataset)} samples of {dataset.sample_shape}, batch {recipe.train.batch_size}, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}, device {args.device}")
    sections = {"reference": reference_section, "profile": profile_section, "phases": phases_section, "sizes": sizes_section,
                "compile": compile_section, "memory": memory_section}
    for name in args.sections:
        sections[name](recipe, dataset, args)


if __name__ == "__main__":
    main()
