"""Training throughput of a recipe, and the time of one generator step split into its parts.

    python benchmarks/train_throughput.py digits --data ../shared/data/fsdd/recordings
    python benchmarks/train_throughput.py mnist --data ../shared/data/mnist

Times (best of --repeats, after a warm-up) the phases of a step with the recipe's own
settings: drawing a batch (data), a critic update without the penalty, the penalty's extra
cost (a critic update with it minus one without), the generator update, and the EMA update
(bookkeeping). One generator step is critic_steps critic updates (penalties every
penalty_every of them) plus one generator update. Throughput counts real samples the critic
sees per second.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
import time

import torch

from ganaudio.config import load_recipe
from ganaudio.data import load_dataset
from ganaudio.train import Trainer


def best_ms(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipe")
    parser.add_argument("--data")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    recipe = load_recipe(args.recipe, args.overrides, data_root=args.data)
    cfg = recipe.train
    dataset = load_dataset(recipe)
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(recipe, dataset, run_dir)
        print(f"recipe {recipe.name}: {len(dataset)} samples of {dataset.sample_shape}; batch {cfg.batch_size}; "
              f"loss {cfg.loss}; critic_steps {cfg.critic_steps}; penalty_every {cfg.penalty_every}; "
              f"device {trainer.device}; torch threads {torch.get_num_threads()}; "
              f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}")
        data = best_ms(trainer.random_batch, args.repeats)
        no_penalty_cfg = dataclasses.replace(cfg, gp_weight=0.0, r1_weight=0.0)
        penalty_cfg = dataclasses.replace(cfg, penalty_every=1)
        trainer.train_config = penalty_cfg
        with_penalty = best_ms(trainer.critic_step, args.repeats)
        trainer.train_config = no_penalty_cfg
        critic = best_ms(trainer.critic_step, args.repeats)
        trainer.train_config = cfg
        generator = best_ms(trainer.generator_step, args.repeats)
        bookkeeping = best_ms(trainer.update_ema, args.repeats)
        penalty = max(with_penalty - critic, 0.0)
        per_step = cfg.critic_steps * (critic + penalty / cfg.penalty_every) + generator + bookkeeping
        step_real = best_ms(trainer.train_step, max(2, args.repeats // 3))
    print("| phase | ms per generator step |")
    print("|---|---:|")
    print(f"| data (batch draw; included in the phases below) | {cfg.critic_steps * data:.1f} |")
    print(f"| critic updates without penalty ({cfg.critic_steps} x {critic:.0f} ms) | {cfg.critic_steps * critic:.0f} |")
    print(f"| penalty ({penalty:.0f} ms, every {cfg.penalty_every} critic updates) | "
          f"{cfg.critic_steps * penalty / cfg.penalty_every:.0f} |")
    print(f"| generator update | {generator:.0f} |")
    print(f"| bookkeeping (EMA) | {bookkeeping:.1f} |")
    print(f"| sum of phases | {per_step:.0f} |")
    print(f"| measured train_step (best of {max(2, args.repeats // 3)}) | {step_real:.0f} |")
    print(f"throughput: {1000 / per_step:.2f} generator steps/s, "
          f"{1000 * cfg.critic_steps * cfg.batch_size / per_step:.0f} real samples/s through the critic; "
          f"{60000 / per_step:.0f} generator steps per minute")


if __name__ == "__main__":
    main()
