"""A run survives what happens to it: kill -9 at any moment, SIGINT and SIGTERM, a NaN, a full
disk. Checkpoints are whole, --resume goes on from the last complete one, nothing is lost."""

from __future__ import annotations

import errno
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import ganaudio.checkpoint
import ganaudio.gan
from ganaudio.checkpoint import list_checkpoints, load_checkpoint
from ganaudio.cli import main
from ganaudio.data import load_dataset
from ganaudio.errors import TrainingStopped
from ganaudio.run_folder import read_metrics
from ganaudio.train import Trainer
from tests.test_train import TINY_MEL, TINY_MODEL, TINY_TRAIN, tiny_voice

REPO = Path(__file__).resolve().parents[1]
SETTINGS = ["data.num_clips=20", *TINY_MEL, *TINY_MODEL, *TINY_TRAIN]


def train_command(out: Path, *overrides: str) -> list[str]:
    command = [sys.executable, "-m", "ganaudio", "train", "voice", "--out", str(out)]
    for override in [*SETTINGS, *overrides]:
        command += ["--set", override]
    return command


class Run:
    """A training process whose stderr goes to a file (a pipe nobody reads could fill up)."""

    def __init__(self, command: list[str], log: Path):
        env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
        self.log = log
        with open(log, "w") as stderr:
            self.process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=stderr)

    def wait(self, timeout: float = 120) -> int:
        return self.process.wait(timeout=timeout)

    @property
    def stderr(self) -> str:
        return self.log.read_text()


def start(command: list[str]) -> Run:
    log = Path(command[command.index("--out") + 1]).parent / f"stderr-{time.monotonic_ns()}.log"
    return Run(command, log)


def wait_for_checkpoint_after(out: Path, step: int, run: Run, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = list_checkpoints(out)
        if found and int(found[-1].stem.split("-")[1]) > step:
            return
        assert run.process.poll() is None, run.stderr
        time.sleep(0.05)
    raise AssertionError("training made no checkpoint in time")


def error_lines(stderr: str) -> list[str]:
    """The CLI's own message lines (stderr also carries the progress bar)."""
    return [line.split("\r")[-1] for line in stderr.splitlines() if "ganaudio: " in line]


def newest_step(out: Path) -> int:
    found = list_checkpoints(out)
    return int(found[-1].stem.split("-")[1]) if found else 0


def test_kill_9_at_random_moments_never_leaves_a_broken_checkpoint(tmp_path):
    out = tmp_path / "run"
    # A checkpoint every step, so kills land inside writes as well as between them.
    settings = ["train.steps=100000", "train.checkpoint_every=1", "train.keep_checkpoints=3", "train.sample_every=100000"]
    moments = random.Random(7)
    for attempt in range(4):
        before = newest_step(out)
        process = start(train_command(out, *settings) + (["--resume"] if before else []))
        wait_for_checkpoint_after(out, before, process)
        time.sleep(moments.uniform(0, 0.4))
        process.process.kill()
        process.wait()
        for path in list_checkpoints(out):
            assert load_checkpoint(path)["step"] == int(path.stem.split("-")[1])
        assert all(row["step"] >= 1 for row in read_metrics(out / "metrics.jsonl"))
    last = newest_step(out)
    finish = start(train_command(out, *settings[1:], f"train.steps={last + 3}") + ["--resume"])
    assert finish.wait() == 0, finish.stderr
    assert newest_step(out) == last + 3
    assert not list(out.glob(".*.tmp"))  # what the kills left half-written is gone
    steps = [row["step"] for row in read_metrics(out / "metrics.jsonl") if "critic/loss" in row]
    assert steps == list(range(1, last + 4))  # one row per step, none twice


@pytest.mark.parametrize("number, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_sigint_and_sigterm_save_a_checkpoint_and_say_how_to_resume(tmp_path, number, code):
    out = tmp_path / "run"
    settings = ["train.steps=100000", "train.checkpoint_every=50", "train.sample_every=100000"]
    process = start(train_command(out, *settings))
    wait_for_checkpoint_after(out, 0, process)
    process.process.send_signal(number)
    assert process.wait(timeout=60) == code
    err = process.stderr
    message = error_lines(err)
    assert len(message) == 1 and "Traceback" not in err
    step = newest_step(out)
    assert f"{signal.Signals(number).name} at step {step}: saved" in message[0] and "--resume" in message[0]
    assert load_checkpoint(list_checkpoints(out)[-1])["step"] == step
    resumed = start(train_command(out, *settings[1:], f"train.steps={step + 2}") + ["--resume"])
    assert resumed.wait() == 0, resumed.stderr
    assert newest_step(out) == step + 2


def nan_at(monkeypatch, call: int) -> None:
    """The critic loss of the `call`-th critic update is NaN."""
    calls = {"n": 0}
    real_loss = ganaudio.gan.critic_loss

    def poisoned(*args, **kwargs):
        losses = real_loss(*args, **kwargs)
        calls["n"] += 1
        if calls["n"] == call:
            losses["total"] = losses["total"] * float("nan")
        return losses

    monkeypatch.setattr(ganaudio.gan, "critic_loss", poisoned)


def test_a_nan_stops_training_naming_the_step_and_keeps_the_good_checkpoints(tmp_path, monkeypatch):
    recipe = tiny_voice("train.steps=12", "train.checkpoint_every=2", "train.log_every=5", "train.critic_steps=1")
    nan_at(monkeypatch, 7)  # step 7's critic update
    trainer = Trainer(recipe, load_dataset(recipe), tmp_path)
    with pytest.raises(TrainingStopped, match="training diverged at step 7: a loss was NaN or Inf; "
                                              "the last good checkpoint is .*checkpoint-0000006.pt"):
        trainer.fit()
    assert [p.name for p in list_checkpoints(tmp_path)][-1] == "checkpoint-0000006.pt"
    for path in list_checkpoints(tmp_path):
        state = load_checkpoint(path)
        assert all(torch.isfinite(v).all() for v in state["generator"].values() if v.is_floating_point())


def test_the_cli_reports_divergence_in_one_line(tmp_path, monkeypatch, capsys):
    nan_at(monkeypatch, 3)
    args = ["train", "voice", "--out", str(tmp_path / "run")]
    for override in [*SETTINGS, "train.critic_steps=1"]:
        args += ["--set", override]
    assert main(args) == 2
    message = error_lines(capsys.readouterr().err)
    assert len(message) == 1 and "training diverged at step 3" in message[0] and "train.on_nan: skip" in message[0]


def test_on_nan_skip_drops_the_update_and_counts_it(tmp_path, monkeypatch):
    recipe = tiny_voice("train.steps=6", "train.critic_steps=1", "train.on_nan=skip")
    nan_at(monkeypatch, 3)
    trainer = Trainer(recipe, load_dataset(recipe), tmp_path)
    trainer.fit()
    assert trainer.state.skipped_updates == 1 and trainer.step == 6
    assert all(bool(torch.isfinite(p).all()) for p in trainer.state.critic.parameters())
    rows = read_metrics(tmp_path / "metrics.jsonl")
    assert rows[-1]["train/skipped_updates"] == 1.0
    assert load_checkpoint(list_checkpoints(tmp_path)[-1])["skipped_updates"] == 1


def test_a_full_disk_stops_with_one_line_and_keeps_the_last_checkpoint(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    args = ["train", "voice", "--out", str(out), "--set", "train.steps=6"]
    for override in SETTINGS:
        args += ["--set", override]
    real_save, saves = torch.save, {"n": 0}  # torch.save itself: the feature cache uses it too

    def fills_the_disk(payload, path, *rest, **kwargs):
        saves["n"] += Path(path).name.startswith(".checkpoint-")
        if saves["n"] == 2:  # the second checkpoint: half written, then the disk is full
            Path(path).write_bytes(b"PK\x03\x04 half a checkpoint")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(payload, path, *rest, **kwargs)

    monkeypatch.setattr(ganaudio.checkpoint.torch, "save", fills_the_disk)
    assert main(args) == 2
    message = error_lines(capsys.readouterr().err)
    assert len(message) == 1 and "checkpoint-0000004.pt: cannot write (No space left on device)" in message[0]
    assert [p.name for p in list_checkpoints(out)] == ["checkpoint-0000002.pt"]
    assert load_checkpoint(out / "checkpoint-0000002.pt")["step"] == 2
    assert not list(out.glob(".*.tmp"))
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert [row["step"] for row in read_metrics(out / "metrics.jsonl")] == [1, 2, 3, 4] and len(lines) == 4


def test_nan_weights_with_finite_losses_are_caught_before_any_checkpoint(tmp_path):
    """A NaN batch-norm statistic leaves the training losses finite (training normalises by the
    batch) but would poison every sample: the weight check stops the run first."""
    recipe = tiny_voice()
    trainer = Trainer(recipe, load_dataset(recipe), tmp_path)
    norm = next(m for m in trainer.state.generator.modules() if isinstance(m, torch.nn.BatchNorm1d))
    norm.running_mean[0] = float("nan")
    with pytest.raises(TrainingStopped, match="training diverged by step 1: the weights hold NaN or Inf; "
                                              "no checkpoint was written before it"):
        trainer.fit()
    assert not list_checkpoints(tmp_path)


def test_resume_takes_the_recipes_learning_rates(tmp_path):
    recipe = tiny_voice()
    Trainer(recipe, load_dataset(recipe), tmp_path).fit()
    slower = tiny_voice("train.lr_critic=1e-5", "train.lr_generator=2e-5", "train.beta2=0.9", "train.steps=5")
    resumed = Trainer(slower, load_dataset(slower), tmp_path)
    resumed.resume()
    assert [g["lr"] for g in resumed.state.opt_critic.param_groups] == [1e-5]
    assert [g["lr"] for g in resumed.state.opt_generator.param_groups] == [2e-5]
    assert resumed.state.opt_critic.param_groups[0]["betas"] == (0.0, 0.9)
