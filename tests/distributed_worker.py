"""Run under torchrun by tests/test_distributed.py: train the voice recipe for its steps in this
process of the group and save this rank's weights, its gradients after the first step and the
all-reduced metrics of every step to OUT/rank<N>.pt (record() also serves the 1-process run).

    python -m torch.distributed.run --standalone --nproc_per_node 2 tests/distributed_worker.py OUT --set ...
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from ganaudio.config import load_recipe
from ganaudio.data import load_dataset
from ganaudio.runtime import leave_process_group
from ganaudio.train import Trainer


def record(overrides: list[str], run_dir: Path) -> dict:
    recipe = load_recipe("voice", overrides)
    trainer = Trainer(recipe, load_dataset(recipe), run_dir)
    metrics = [trainer.shard.mean(trainer.train_step())]
    # After a step the critic holds its last update's gradients and the generator its own.
    gradients = {f"{net}.{name}": p.grad.clone() for net in ("generator", "critic")
                 for name, p in getattr(trainer.state, net).named_parameters()}
    metrics += [trainer.shard.mean(trainer.train_step()) for _ in range(recipe.train.steps - 1)]
    return {"generator": trainer.state.generator.state_dict(), "critic": trainer.state.critic.state_dict(),
            "generator_ema": trainer.state.generator_ema.state_dict(), "metrics": metrics, "gradients": gradients,
            "rank": trainer.shard.rank, "world_size": trainer.shard.world_size}


def main() -> None:
    out, overrides = Path(sys.argv[1]), [arg for arg in sys.argv[2:] if arg != "--set"]
    result = record(overrides, out / "run")
    torch.save(result, out / f"rank{result['rank']}.pt")
    leave_process_group(finished=True)


if __name__ == "__main__":
    main()
