"""The training loop serves any model, not only the GAN: a tiny regression (the stand-in for the
vocoder to come) gets checkpoints, previews, evaluation and best.pt, the NaN guard, signals and
resume from it without a line of its own for any of them."""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass

import pytest
import torch

from ganaudio.checkpoint import load_checkpoint
from ganaudio.errors import TrainingStopped
from ganaudio.loop import TrainingLoop, apply_update
from ganaudio.run_folder import RunFolder
from ganaudio.runtime import Shard

CPU = torch.device("cpu")


@dataclass
class Schedule:
    steps: int = 12
    max_minutes: float | None = None
    log_every: int = 2
    sample_every: int = 4
    eval_every: int = 3
    checkpoint_every: int = 5
    keep_checkpoints: int = 2
    on_nan: str = "stop"


class Regression:
    """Fits w in y = 2x: a training state with one weight, one optimizer and two counters."""

    def __init__(self) -> None:
        self.w = torch.zeros(1, requires_grad=True)
        self.optimizer = torch.optim.SGD([self.w], lr=1.0)
        self.step = 0
        self.skipped_updates = 0

    def state_dict(self) -> dict:
        return {"w": self.w.detach().clone(), "optimizer": self.optimizer.state_dict(), "step": self.step,
                "skipped_updates": self.skipped_updates}

    def load_state_dict(self, state: dict) -> None:
        with torch.no_grad():
            self.w.copy_(state["w"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.step, self.skipped_updates = state["step"], state["skipped_updates"]

    def weights(self) -> dict[str, torch.Tensor]:
        return {"w": self.w.detach()}


def regression_step(state: Regression, schedule: Schedule, poisoned: set[int] = frozenset()):
    def step() -> dict[str, torch.Tensor]:
        x = torch.linspace(-1, 1, 16)
        loss = ((state.w * x - 2 * x) ** 2).mean()
        if state.step + 1 in poisoned:
            loss = loss * float("nan")
        state.optimizer.zero_grad()
        loss.backward()
        apply_update(state.optimizer, loss, state, schedule.on_nan, Shard(), CPU)
        state.step += 1
        return {"loss": loss.detach()}
    return step


def make_loop(tmp_path, schedule=None, poisoned=frozenset(), preview=None):
    schedule = schedule or Schedule()
    state = Regression()
    loop = TrainingLoop(state, regression_step(state, schedule, poisoned), RunFolder(tmp_path), schedule, Shard(), CPU,
                        preview=preview, evaluate=lambda: {"eval/error": abs(float(state.w.detach()) - 2.0)},
                        best_by="eval/error", progress={"L": "loss"})
    return state, loop


def test_another_model_trains_with_checkpoints_previews_and_best(tmp_path):
    previews = []
    state, loop = make_loop(tmp_path, preview=previews.append)
    last = loop.fit()
    assert abs(float(state.w.detach()) - 2.0) < 1e-3
    assert loop.run.checkpoints() == [loop.run.checkpoint(10), last] and last == loop.run.checkpoint(12)
    assert previews == [4, 8, 12]
    rows = loop.run.metrics()
    # every log_every-th step, and every step whose evaluation or checkpoint synced the losses anyway
    assert [r["step"] for r in rows if "loss" in r] == [2, 3, 4, 5, 6, 8, 9, 10, 12]
    assert [r["step"] for r in rows if "eval/error" in r] == [3, 6, 9, 12]
    best = load_checkpoint(loop.run.best_file)
    assert best["step"] == 12 and best["evaluation"]["eval/error"] == loop.best_score


def test_a_nan_stops_it_at_that_step_and_skip_drops_the_update(tmp_path):
    state, loop = make_loop(tmp_path / "stop", poisoned={7})
    with pytest.raises(TrainingStopped, match="training diverged at step 7: a loss was NaN or Inf; the last "
                                              "good checkpoint is .*checkpoint-0000005.pt"):
        loop.fit()
    assert torch.isfinite(load_checkpoint(loop.run.checkpoints()[-1])["w"]).all()
    state, loop = make_loop(tmp_path / "skip", Schedule(on_nan="skip"), poisoned={3, 7})
    loop.fit()
    assert state.skipped_updates == 2 and state.step == 12 and abs(float(state.w.detach()) - 2.0) < 1e-3
    assert loop.run.metrics()[-2]["train/skipped_updates"] == 2.0


def test_a_signal_stops_it_with_a_checkpoint_and_it_resumes_exactly(tmp_path):
    straight, loop = make_loop(tmp_path / "straight")
    loop.fit()

    def terminate_at_8(step: int) -> None:
        if step == 8:
            os.kill(os.getpid(), signal.SIGTERM)

    state, loop = make_loop(tmp_path / "split", preview=terminate_at_8)
    with pytest.raises(TrainingStopped, match="SIGTERM at step 9: saved .*checkpoint-0000009.pt; resume with") as stopped:
        loop.fit()  # the step under way ends, then a checkpoint; no evaluation (9 was due)
    assert stopped.value.exit_code == 128 + signal.SIGTERM
    assert loop.run.checkpoints() == [loop.run.checkpoint(5), loop.run.checkpoint(9)]
    assert [r["step"] for r in loop.run.metrics() if "eval/error" in r] == [3, 6]
    loop.run.checkpoint(9).unlink()  # as if killed before it was written: resume from step 5
    resumed, loop = make_loop(tmp_path / "split")
    resumed.load_state_dict(load_checkpoint(loop.run.checkpoints()[-1]))
    loop.resumed()
    assert loop.run.metrics()[-1]["step"] == 5  # steps 6-9 are logged again
    assert [r["step"] for r in loop.evaluations] == [3, 6] and loop.best_step == 6  # best.pt of step 6 is kept
    loop.fit()
    assert torch.equal(resumed.w, straight.w) and loop.best_score == pytest.approx(abs(float(straight.w.detach()) - 2.0))


def test_the_time_limit_is_read_every_step_not_only_on_logged_ones(tmp_path):
    """A slow model (seconds a step) must not overrun train.max_minutes by up to log_every steps."""
    import time

    schedule = Schedule(steps=1000, max_minutes=0.005, log_every=500, sample_every=500, eval_every=0,
                        checkpoint_every=500)
    state, loop = make_loop(tmp_path, schedule)
    step = loop.step
    loop.step = lambda: (time.sleep(0.05), step())[1]  # 50 ms a step against a 300 ms limit
    last = loop.fit()
    assert 5 <= state.step <= 8 and last == loop.run.checkpoint(state.step)


def test_a_process_that_got_no_signal_stops_as_sigterm_with_the_others(tmp_path):
    """Under torchrun every process stops when any one is signalled; one that got none itself
    must still raise TrainingStopped (not crash), or the others wait for it at the barrier."""
    _, loop = make_loop(tmp_path)
    loop.signals = []
    with pytest.raises(TrainingStopped, match="SIGTERM at step 0") as stopped:
        loop.raise_stopped(None)
    assert stopped.value.exit_code == 128 + signal.SIGTERM
