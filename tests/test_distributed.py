"""Training under torchrun: 2 CPU processes (Gloo) follow the 1-process run of the same global
batch, keep identical weights, and only the main process writes the run folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ganaudio.checkpoint import list_checkpoints, load_checkpoint
from ganaudio.config import load_recipe
from ganaudio.runtime import Shard
from tests.distributed_worker import record

REPO = Path(__file__).resolve().parents[1]
# Penalties every critic step (WGAN-GP mixes and R1) and DiffAugment: every random draw is sliced.
# fp32, because bf16 rounds a half batch's convolutions differently from a whole one's.
OVERRIDES = ["data.num_clips=20", "features.clip_seconds=0.256", "features.n_fft=256", "features.hop_length=64",
             "features.n_mels=32", "model.width=4", "model.max_width=16", "model.latent_dim=8",
             "train.batch_size=8", "train.critic_steps=2", "train.steps=3", "train.loss=wgan-gp",
             "train.gp_weight=10", "train.r1_weight=0.5", "train.penalty_every=1", "train.diffaugment_shift=0.1",
             "train.diffaugment_cutout=0.2", "train.mixed_precision=false", "train.eval_every=0",
             "train.log_every=1", "train.sample_every=2", "train.checkpoint_every=2", "output.grid_samples=4",
             "output.wav_samples=1"]


def torchrun(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    # One thread per process on 2 cores; the test's own cache folder is inherited.
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", *args]
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def set_args(overrides: list[str]) -> list[str]:
    return [arg for override in overrides for arg in ("--set", override)]


def test_two_processes_follow_one_process_of_the_same_global_batch(tmp_path):
    torchrun(tmp_path, str(REPO / "tests" / "distributed_worker.py"), str(tmp_path), *set_args(OVERRIDES))
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    assert [r["world_size"] for r in ranks] == [2, 2]
    for net in ("generator", "critic", "generator_ema"):
        assert all(torch.equal(ranks[0][net][k], ranks[1][net][k]) for k in ranks[0][net]), net
    single = record(OVERRIDES, tmp_path / "single")
    # DDP averages the two half-batch gradients into the whole batch's.
    for name, gradient in single["gradients"].items():
        assert torch.allclose(ranks[0]["gradients"][name], gradient, rtol=1e-3, atol=1e-6), name
    # Some critic weights get a gradient that cancels to rounding noise: under WGAN, real and
    # fake carry the same labels, so a last-layer bias sees +1 from each fake and -1 from each
    # real sample wherever the activations agree (measured: features.6.bias moved 3.9e-4 apart in
    # 3 steps, every other weight under 2e-7). Adam turns noise into steps of about lr either
    # way, so the runs' scores drift apart by a near-constant of up to about 2 lr per critic
    # update. Critic losses are differences of scores and cancel it; gen/loss = -mean(score)
    # carries it. The gradients above are the tight check of the same computation.
    recipe = load_recipe("voice", OVERRIDES)
    drift_per_step = 2 * recipe.train.critic_steps * recipe.train.lr_critic
    for step, (two, one) in enumerate(zip(ranks[0]["metrics"], single["metrics"]), start=1):
        assert two.keys() == one.keys() and {"critic/gp", "critic/r1"} <= one.keys()
        for key in one:
            drift = step * drift_per_step if key.startswith("gen/") else 0.0
            assert two[key] == pytest.approx(one[key], rel=1e-3, abs=1e-4 + drift), key
    # Adam's first steps move every weight by about lr whatever its gradient's size, so weights
    # whose gradient is rounding noise may step the other way: equal within a few steps of lr.
    for key, value in single["generator"].items():
        assert torch.allclose(ranks[0]["generator"][key].float(), value.float(), atol=2e-3), key


def test_torchrun_trains_from_the_cli_with_one_writer_and_resumes(tmp_path):
    out = tmp_path / "run"
    base = ["-m", "ganaudio", "train", "voice", "--out", str(out), *set_args(OVERRIDES)]
    result = torchrun(tmp_path, *base)
    assert [p.name for p in list_checkpoints(out)] == ["checkpoint-0000002.pt", "checkpoint-0000003.pt"]
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert [int(line.split('"step": ')[1].split(",")[0]) for line in lines] == [1, 2, 3]  # one writer
    assert result.stdout.count("wrote ") == 1
    assert not list(out.glob(".*tmp"))
    torchrun(tmp_path, *base, "--resume", "--set", "train.steps=4")
    state = load_checkpoint(out / "checkpoint-0000004.pt")
    assert state["step"] == 4 and "module.blocks.0.weight" not in state["generator"]


def test_a_global_batch_must_split_evenly_and_draws_are_sliced():
    from ganaudio.errors import UserError

    with pytest.raises(UserError, match="train.batch_size: 9 does not split evenly over 2 processes"):
        Shard(0, 2).local_size(9)
    whole = Shard().draw(lambda size: torch.randn(size, generator=torch.Generator().manual_seed(5)), 8, 3)
    halves = [Shard(r, 2).draw(lambda size: torch.randn(size, generator=torch.Generator().manual_seed(5)), 4, 3)
              for r in (0, 1)]
    assert torch.equal(torch.cat(halves), whole)
