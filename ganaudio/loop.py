"""The training loop every model uses: a state, a step function and a run folder go in; steps,
logs, previews, evaluations, checkpoints and a clean stop come out.

    state    what a checkpoint holds (networks, optimizers, RNG, counters): `TrainingState`
    step     one update of the state, returning named scalar tensors
    run      the run folder that owns every file (run_folder.py)

`TrainingLoop.fit` reads as its phases, in order: step, check, log, preview, evaluate,
checkpoint, stop. The GAN (train.py) is one user; a vocoder is the next. Written after
stylegan2-ada's training_loop (named phases on a schedule) and nanoGPT's train.py (one readable
loop), not copied from either.
"""

from __future__ import annotations

import contextlib
import json
import math
import signal
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Protocol

import torch
from tqdm import tqdm

from ganaudio.checkpoint import KIND, load_checkpoint
from ganaudio.errors import TrainingStopped
from ganaudio.run_folder import RunFolder
from ganaudio.runtime import Shard

class TrainingState(Protocol):
    """What the loop needs of a model's training state."""

    step: int  # updates done; the step function advances it
    skipped_updates: int  # updates the NaN guard dropped (train.on_nan: skip)

    def state_dict(self) -> dict[str, Any]:
        """Everything a checkpoint holds, ready to resume from."""

    def weights(self) -> dict[str, torch.Tensor]:
        """Every floating-point tensor whose NaN or Inf must end the run."""


class Schedule(Protocol):
    """When each phase runs (TrainConfig has these fields; so will any model's config)."""

    steps: int
    max_minutes: float | None
    log_every: int
    sample_every: int
    eval_every: int
    checkpoint_every: int
    keep_checkpoints: int
    on_nan: str  # "stop" or "skip"


def all_finite(values: dict[str, torch.Tensor]) -> torch.Tensor:
    """One boolean tensor, on the values' device: no sync until someone reads it."""
    return torch.stack([torch.isfinite(v.detach()).all() for v in values.values()]).all()


def apply_update(optimizer: torch.optim.Optimizer, loss: torch.Tensor, state: TrainingState, on_nan: str,
                 shard: Shard, device: torch.device) -> None:
    """optimizer.step(), except that with on_nan: skip an update whose loss or gradients are NaN
    or Inf on any process is dropped and counted in state.skipped_updates (a device sync)."""
    if on_nan == "skip":
        gradients = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        finite = bool(torch.isfinite(loss)) and bool(torch.nn.utils.get_total_norm(gradients).isfinite())
        if shard.agree(not finite, device):
            state.skipped_updates += 1
            optimizer.zero_grad(set_to_none=True)
            return
    optimizer.step()


@dataclass(frozen=True)
class Due:
    """Which phases run after this step."""

    log: bool
    preview: bool
    evaluate: bool
    checkpoint: bool

    @property
    def sync(self) -> bool:
        """Metrics become numbers (a device sync, and an all-reduce under torchrun) only on the
        steps that log or use them; every process agrees on stopping then."""
        return self.log or self.preview or self.evaluate or self.checkpoint


class NanGuard:
    """Keeps each step's finiteness as a tensor (no sync) and checks them all on synced steps;
    with on_nan: stop, the first bad step ends the run before anything non-finite is saved."""

    def __init__(self, state: TrainingState, run: RunFolder, on_nan: str, shard: Shard):
        self.state, self.run, self.on_nan, self.shard = state, run, on_nan, shard
        self.pending: list[tuple[int, torch.Tensor]] = []  # (step, losses finite) since the last check

    def record(self, metrics: dict[str, torch.Tensor]) -> None:
        self.pending.append((self.state.step, all_finite(metrics)))

    def check(self) -> None:
        self.check_losses()
        self.check_weights()

    def check_losses(self) -> None:
        if not self.pending:
            return
        steps = [step for step, _ in self.pending]
        finite = self.shard.all_true(torch.stack([flag for _, flag in self.pending]))
        self.pending = []
        if self.on_nan == "stop" and not bool(finite.all()):
            first = steps[int((~finite).nonzero()[0])]
            raise TrainingStopped(f"training diverged at step {first}: a loss was NaN or Inf; {self.last_good()}; "
                                  f"resume from it with --resume, perhaps with lower learning rates, or set "
                                  f"train.on_nan: skip to skip such updates")

    def check_weights(self) -> None:
        """Weights are identical on every process, so each checks its own: no collective."""
        if not bool(all_finite(self.state.weights())):
            raise TrainingStopped(f"training diverged by step {self.state.step}: the weights hold NaN or Inf; "
                                  f"{self.last_good()}; resume from it with --resume, perhaps with lower "
                                  f"learning rates")

    def last_good(self) -> str:
        found = self.run.checkpoints()
        return f"the last good checkpoint is {found[-1]}" if found else "no checkpoint was written before it"


@contextlib.contextmanager
def stop_on_signals(received: list[int]) -> Iterator[None]:
    """SIGINT (Ctrl-C) and SIGTERM (kill, a scheduler's preemption) are appended to `received`
    so the loop stops after the current step with a checkpoint; a second one acts at once
    (checkpoints are written atomically, so that loses nothing saved). Only the main thread can
    set handlers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}

    def ask_to_stop(number: int, frame: Any) -> None:
        received.append(number)
        for other, handler in previous.items():
            signal.signal(other, handler)

    for number in previous:
        signal.signal(number, ask_to_stop)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


class TrainingLoop:
    """Runs a state's step function on a schedule into a run folder; only the main process writes.

    `preview(step)` writes the run's preview files for a step; `evaluate()` scores the current
    weights ({"eval/...": value}), and the evaluation with the lowest `best_by` is kept as best.pt. `progress` names the metrics shown beside the progress bar."""

    def __init__(self, state: TrainingState, step: Callable[[], dict[str, torch.Tensor]], run: RunFolder,
                 schedule: Schedule, shard: Shard, device: torch.device,
                 preview: Callable[[int], None] | None = None,
                 evaluate: Callable[[], dict[str, float]] | None = None, best_by: str = "eval/frechet_distance",
                 progress: dict[str, str] | None = None, kind: str = KIND, measure: str = ""):
        self.state, self.step, self.run, self.schedule = state, step, run, schedule
        self.shard, self.device, self.preview, self.evaluate = shard, device, preview, evaluate
        self.best_by, self.progress = best_by, progress or {}
        self.kind = kind  # the kind of checkpoint state_dict() makes (checkpoint.py), for reading best.pt
        self.measure = measure  # what evaluate()'s figures compare under; best.pt keeps it
        self.guard = NanGuard(state, run, schedule.on_nan, shard)
        self.evaluations: list[dict[str, float]] = []  # one row per evaluation, with its step
        self.best_score, self.best_step = math.inf, None  # best_by and step of best.pt
        self.signals: list[int] = []  # SIGINT or SIGTERM received during fit()
        self.started = 0.0

    # ----- the loop ----------------------------------------------------------------------
    def fit(self) -> Any:
        """Train up to schedule.steps (or schedule.max_minutes) and return the last checkpoint.

        A signal ends it after the current step with a checkpoint, and a NaN or Inf loss
        (on_nan: stop) ends it naming the step; both raise TrainingStopped."""
        state, schedule, main = self.state, self.schedule, self.shard.is_main
        if main:
            self.run.prepare()
        self.signals = []
        last_checkpoint = None
        with contextlib.ExitStack() as stack:
            stack.enter_context(stop_on_signals(self.signals))
            log = stack.enter_context(self.run.metrics_log(resumed=state.step > 0)) if main else None
            board = stack.enter_context(self.run.tensorboard()) if main else None
            bar = stack.enter_context(tqdm(total=schedule.steps, initial=state.step, desc="training", unit="step",
                                           dynamic_ncols=True, disable=not main))
            self.started = time.perf_counter()  # the time limit counts training, not opening the logs
            while state.step < schedule.steps:
                # step
                metrics = self.step()
                self.guard.record(metrics)
                bar.update(1)
                due = self.due()
                # One process reads the clock every step; several agree on it on synced steps only.
                out_of_time = self.shard.world_size == 1 and self.out_of_time()
                if due.sync:
                    # check: NaN or Inf since the last check ends the run (on_nan: stop)
                    self.guard.check()
                    numbers = self.shard.mean(metrics)
                    out_of_time = self.shard.agree(self.out_of_time(), self.device)
                    # log
                    if main:
                        self.log(log, board, bar, numbers)
                # stop, part 1: has a signal come? One process decides alone; several agree on synced steps.
                signalled = (due.sync or self.shard.world_size == 1) and self.shard.agree(bool(self.signals),
                                                                                          self.device)
                # preview and evaluate (skipped when signalled: schedulers kill soon after their signal)
                if main and due.preview and not signalled:
                    self.write_preview()
                if main and due.evaluate and self.evaluate is not None and not signalled:
                    row = self.run_evaluation()
                    self.write_row(log, board, row)
                    bar.write(f"step {state.step}: " + ", ".join(f"{k[5:]} {v:.3g}" for k, v in row.items()
                                                                   if k.startswith("eval/")))
                # checkpoint
                if due.checkpoint or out_of_time or signalled:
                    last_checkpoint = self.save()
                # stop
                if signalled:
                    self.raise_stopped(last_checkpoint)
                if out_of_time:
                    break
        if main and state.step % schedule.sample_every:
            self.write_preview()
        return last_checkpoint or self.save()

    def due(self) -> Due:
        step, schedule = self.state.step, self.schedule
        return Due(log=step % schedule.log_every == 0,
                   preview=step % schedule.sample_every == 0,
                   # by the schedule alone: every process must sync on the same steps, and
                   # only the main one evaluates
                   evaluate=bool(schedule.eval_every) and step % schedule.eval_every == 0,
                   checkpoint=step % schedule.checkpoint_every == 0 or step == schedule.steps)

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def out_of_time(self) -> bool:
        return self.schedule.max_minutes is not None and self.elapsed() > 60 * self.schedule.max_minutes

    def raise_stopped(self, checkpoint: Any) -> None:
        # Under torchrun a process that got no signal stops too: every one agreed on it.
        number = signal.Signals(self.signals[0] if self.signals else signal.SIGTERM)
        raise TrainingStopped(f"{number.name} at step {self.state.step}: saved {checkpoint}; resume with: "
                              f"{self.run.resume_command()}", exit_code=128 + int(number))

    # ----- phases ------------------------------------------------------------------------
    def log(self, log: Any, board: Any, bar: tqdm, metrics: dict[str, float]) -> None:
        if self.schedule.on_nan == "skip":
            metrics["train/skipped_updates"] = float(self.state.skipped_updates)
        self.write_row(log, board, {"step": self.state.step, "seconds": round(self.elapsed(), 2), **metrics})
        bar.set_postfix({short: f"{metrics[name]:.3f}" for short, name in self.progress.items() if name in metrics},
                        refresh=False)

    @staticmethod
    def write_row(log: Any, board: Any, row: dict[str, float]) -> None:
        """One metrics.jsonl line (with its step and seconds) and the same scalars in TensorBoard."""
        log.write(json.dumps(row) + "\n")
        log.flush()
        if board is not None:
            for name, value in row.items():
                if name not in ("step", "seconds"):
                    board.add_scalar(name, value, row["step"])

    def write_preview(self) -> None:
        if self.preview is not None:
            self.preview(self.state.step)

    def run_evaluation(self) -> dict[str, float]:
        """Score the current weights; keep them as best.pt when best_by is the lowest so far.
        Returns the metrics.jsonl row."""
        step = self.state.step
        row = {"step": step, "seconds": round(self.elapsed(), 2), **self.evaluate()}
        # A resumed run evaluates a step again when best.pt was newer than its checkpoint.
        self.evaluations = [r for r in self.evaluations if r["step"] != step] + [row]
        if row[self.best_by] < self.best_score:
            self.best_score, self.best_step = row[self.best_by], step
            self.run.save_best(step, {**self.state.state_dict(), "evaluation": row, "measure": self.measure})
        self.run.plot_evaluation(sorted(self.evaluations, key=lambda r: r["step"]), self.best_by)
        return row

    def save(self) -> Any:
        """Write a checkpoint (the main process only; the others return its path), never one
        with NaN or Inf losses since the last check or in the weights."""
        self.guard.check()
        if not self.shard.is_main:
            return self.run.checkpoint(self.state.step)
        return self.run.save_checkpoint(self.state.step, self.state.state_dict(), keep=self.schedule.keep_checkpoints)

    # ----- resuming ----------------------------------------------------------------------
    def resumed(self) -> None:
        """After the state was loaded from a checkpoint: drop the metrics logged after it, and
        bring back the evaluation history (for the plot) and the best score (for best.pt)."""
        step = self.state.step
        if self.shard.is_main:
            self.run.trim_metrics(step)
        self.evaluations = [row for row in self.run.metrics() if self.best_by in row and row["step"] <= step]
        best = self.run.best_file
        if best.is_file() and self.shard.is_main:  # only the main process evaluates
            # A best.pt newer than the checkpoint resumed from (the run went on after its last
            # checkpoint) is kept: it is still the best model this run has made.
            saved = load_checkpoint(best, kinds=(self.kind,))
            if self.evaluate is not None and saved.get("measure", "") != self.measure:
                self.set_aside_best(saved)
                return
            self.best_score, self.best_step = float(saved["evaluation"][self.best_by]), int(saved["step"])
            if self.best_step > step:
                self.evaluations.append(dict(saved["evaluation"]))

    def set_aside_best(self, saved: dict[str, Any]) -> None:
        """best.pt was scored under another measure (an older ganaudio, another decoder): its
        figure cannot be compared with this run's, so it is renamed, not overwritten by the next
        evaluation or kept over better weights; the curves start again with this measure."""
        self.evaluations = []
        kept = self.run.set_aside_best(int(saved["step"]))
        print(f"ganaudio: {self.run.best_file} was scored {saved.get('measure') or 'by an earlier ganaudio'}, and "
              f"this run scores {self.measure or 'otherwise'}: renamed it {kept.name}; the next evaluation "
              f"writes best.pt again", file=sys.stderr)
