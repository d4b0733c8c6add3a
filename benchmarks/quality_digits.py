"""Quality against wall-clock time: train a recipe under several settings, one after the
other on the same machine, and score every checkpoint with `ganaudio evaluate`'s figures.

    OMP_WAIT_POLICY=PASSIVE python benchmarks/quality_digits.py --data ../shared/data/fsdd/recordings \\
        --minutes 10 --rows wgan-gp-specgan-settings defaults --seeds 3 --parallel --threads 1 \\
        --score compare --out /tmp/quality

Each row is the recipe plus `--set` overrides (ROWS below; `--rows` picks them), trained once
per seed (`train.seed` 0, 1, ... `--seeds`-1) into OUT/<recipe>-<row>-seed<seed>: one after the
other, or each seed's rows side by side with `--parallel --threads 1` (equal wall-clock then
means equal shares of the machine). `--score all` scores every checkpoint with `ganaudio
evaluate`'s figures (label accuracy, inception score, Frechet distance, nearest-neighbour
ratio, against the real held-out clips, printed first); `--score compare` scores two per run:
its last checkpoint (equal time) and its state at the steps the slowest row of its seed made
(equal steps: a step-limited copy, identical on CPU), and prints each row's mean and spread
over the seeds; `--score all --at-steps 1000 2500` scores those steps and each run's last
checkpoint, and prints the same at each. With `--score-only` existing run folders are scored
again without training. Last comes each row's time to quality: the minutes of its first scored
checkpoint whose label accuracy reaches --target-accuracy.

Beside the classifier's figures, each row has those of the signal statistics, which no model
is picked on (ganaudio.evaluate): a second Frechet distance, precision, recall, and the
spread of the least varied label. For a small kit the classifier is weak and these are the
figures to read:

    OMP_WAIT_POLICY=PASSIVE python benchmarks/quality_digits.py --recipe drums --data ../shared/data/drumkits \\
        --minutes 16 --rows defaults diffaugment --seeds 3 --parallel --threads 1 --out /tmp/drums \\
        --score all --at-steps 1000 2500
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Callable

import torch

from ganaudio.checkpoint import list_checkpoints
from ganaudio.evaluate import evaluate_checkpoint

# SpecGAN's training settings (Donahue et al. 2019: WGAN-GP, lambda 10, 5 critic steps, Adam
# 1e-4 (0.5, 0.9), batch 64) on ganaudio's networks, features and EMA. Not SpecGAN itself: its
# 2-D 5x5 transposed-convolution networks on 128x128 mels are not reproduced here.
SPECGAN_SETTINGS = ["train.loss=wgan-gp", "train.gp_weight=10", "train.r1_weight=0", "train.penalty_every=1",
                    "train.critic_steps=5", "train.lr_generator=1e-4", "train.lr_critic=1e-4", "train.beta1=0.5",
                    "train.beta2=0.9", "train.batch_size=64", "train.diffaugment_shift=0",
                    "train.diffaugment_cutout=0"]
ROWS = {
    "wgan-gp-specgan-settings": SPECGAN_SETTINGS,
    "defaults": [],
    "fp32": ["train.mixed_precision=false"],
    "no-diffaugment": ["train.diffaugment_shift=0", "train.diffaugment_cutout=0"],
    "diffaugment": ["train.diffaugment_shift=0.125", "train.diffaugment_cutout=0.25"],
    "shift-only": ["train.diffaugment_shift=0.125", "train.diffaugment_cutout=0"],
    "no-ema": ["train.ema_decay=0"],
    "ema-0.999": ["train.ema_decay=0.999"],
    "wider": ["model.width=192", "model.max_width=512"],
    "minibatch-std": ["model.minibatch_std=4"],
    "minibatch-std-diffaugment": ["model.minibatch_std=4", "train.diffaugment_shift=0.125",
                                  "train.diffaugment_cutout=0.25"],
    "mode-seeking": ["train.mode_seeking_weight=1"],
    "mode-seeking-0.1": ["train.mode_seeking_weight=0.1"],
    "r1-0.1": ["train.r1_weight=0.1"],
    "critic-lr-4e-4": ["train.lr_critic=4e-4"],
}
# checkpoints about every 1-2 minutes on 2 cores (--checkpoint-scale scales this for long runs)
CHECKPOINT_EVERY = {"wgan-gp-specgan-settings": 100}


def checkpoint_every(recipe: str, row: str, scale: float) -> int:
    return max(1, int(CHECKPOINT_EVERY.get(row, 500 if recipe == "digits" else 250) * scale))


def train_command(recipe: str, every: int, overrides: list[str], data: str, out: Path, minutes: float,
                  threads: int) -> list[str]:
    command = [sys.executable, "-m", "ganaudio", "train", recipe, "--data", data, "--out", str(out),
               "--set", "train.steps=1000000", "--set", f"train.max_minutes={minutes}",
               "--set", f"train.checkpoint_every={every}", "--set", "train.keep_checkpoints=1000",
               "--set", "train.sample_every=1000000", "--set", f"train.threads={threads}"]
    for override in overrides:
        command += ["--set", override]
    return command


def train_rows(commands: list[list[str]], parallel: bool, logs: Path) -> None:
    """One after the other, or all at once (each on its --threads; progress bars go to
    OUT/<run>.log). A run folder that already holds checkpoints is left as it is."""
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    commands = [c for c in commands if not list_checkpoints(Path(c[c.index("--out") + 1]))]
    for command in commands:
        print("$", " ".join(command), flush=True)
    if not parallel:
        for command in commands:
            subprocess.run(command, check=True, env=env)
        return
    logs.mkdir(parents=True, exist_ok=True)
    running = []
    for command in commands:
        log = open(logs / f"{Path(command[command.index('--out') + 1]).name}.log", "w")
        running.append((subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT), log))
    for process, log in running:
        process.wait()
        log.close()
        if process.returncode:
            sys.exit(f"training failed ({process.returncode}): see {log.name}")


def minutes_at_step(run_dir: Path) -> Callable[[int], float]:
    """Training minutes at a step: from the last metrics.jsonl row at or before it (rows come
    every train.log_every steps; a run stopped by max_minutes ends between them)."""
    path = run_dir / "metrics.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines() if line] if path.is_file() else []
    steps, minutes = [row["step"] for row in rows], [row["seconds"] / 60 for row in rows]
    return lambda step: minutes[bisect.bisect_right(steps, step) - 1] if steps and step >= steps[0] else float("nan")


def last_step(run_dir: Path) -> int:
    return int(list_checkpoints(run_dir)[-1].stem.split("-")[1])


def score_run(run_dir: Path, data: str, n: int | None, steps: set[int] | None = None,
              vocoder: str | None = None) -> list[dict]:
    """Every checkpoint's figures, or only those of `steps` (and the last checkpoint), decoded
    by `vocoder` (default: Griffin-Lim matched to the mels)."""
    minutes = minutes_at_step(run_dir)
    results = []
    found = list_checkpoints(run_dir)
    if steps is not None:
        found = [p for p in found if int(p.stem.split("-")[1]) in steps or p == found[-1]]
    for path in found:
        evaluation = evaluate_checkpoint(path, n=n, data_root=data, vocoder=vocoder)
        step = int(path.stem.split("-")[1])
        results.append({"step": step, "minutes": minutes(step), **evaluation.to_dict()})
    return results


def print_reference(result: dict) -> None:
    """The real held-out clips' figures (classifier figures first, then on signal statistics)."""
    for name, scores in (("real held-out (train vs held-out)", result["real"]),
                         ("real held-out via vocoder", result.get("real_vocoded"))):
        if scores:
            print(f"{name} ({scores['count']}): accuracy {_number(scores['accuracy'])}, inception score "
                  f"{scores['inception_score']:.2f}, Frechet distance {scores['frechet_distance']:.2f}; signal Frechet "
                  f"distance {scores['signal_frechet_distance']:.2f}, precision {scores['precision']:.3f}, recall "
                  f"{scores['recall']:.3f}, least label spread {least_spread(scores):.2f}")
    print("targets (digits): accuracy >= 0.90, inception score >= 85% of real, Frechet distance <= 3x real, "
          "nearest-neighbour ratio >= 0.9")


def print_row(row: str, results: list[dict]) -> None:
    print(f"\n{row}")
    print("| minutes | step | " + " | ".join(name for name, _, _ in MEASURES) + " | silent | clipped |")
    print("|---:|---:|" + "---:|" * (len(MEASURES) + 2))
    for r in results:
        g = r["generated"]
        silent = "-" if g["silent"] is None else f"{g['silent']:.1%}"
        clipped = "-" if g["clipped"] is None else f"{g['clipped']:.1%}"
        cells = [fmt(measure(g, r["real"])) for _, measure, fmt in MEASURES]
        print(f"| {r['minutes']:.1f} | {r['step']} | " + " | ".join(cells) + f" | {silent} | {clipped} |", flush=True)


def least_spread(scores: dict) -> float:
    return min(scores["label_spread"].values(), default=float("nan"))


def _ratio(value: float) -> str:
    return f"{value:.1f}x"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _accuracy(g: dict, real: dict) -> float | None:
    return g["accuracy"]


# (column, figure of the generated samples given the real held-out ones', format): ganaudio
# evaluate's classifier figures, then those on the signal statistics, which nothing picks on.
MEASURES = (("accuracy", _accuracy, _number),
            ("inception score, % of real", lambda g, real: g["inception_score"] / real["inception_score"],
             "{:.0%}".format),
            ("Frechet distance, x real", lambda g, real: g["frechet_distance"] / real["frechet_distance"], _ratio),
            ("NN ratio", lambda g, real: g["nearest_neighbour_ratio"], _number),
            ("signal Frechet distance, x real",
             lambda g, real: g["signal_frechet_distance"] / real["signal_frechet_distance"], _ratio),
            ("precision", lambda g, real: g["precision"], _number),
            ("recall", lambda g, real: g["recall"], _number),
            ("least label spread", lambda g, real: least_spread(g), "{:.2f}".format))


def spread(values: list[float], percent: bool = False) -> str:
    scale = 100 if percent else 1
    mean = statistics.mean(values) * scale
    deviation = statistics.stdev(values) * scale if len(values) > 1 else 0.0
    if percent:
        return f"{mean:.0f}% +- {deviation:.0f}"
    return f"{mean:.0f} +- {deviation:.0f}" if abs(mean) >= 100 else f"{mean:.3g} +- {deviation:.2g}"


def print_comparison(tables: list[tuple[str, dict[tuple[str, int], dict]]], timed: str) -> None:
    """Each row's mean +- standard deviation over its seeds in each table (results by (row,
    seed)); minutes only in the table named `timed`, where each run ran beside the others."""
    rows = list(dict.fromkeys(row for _, picked in tables for row, _ in picked))
    for label, picked_by_key in tables:
        print(f"\n{label}: mean +- standard deviation over seeds")
        print("| row | seeds | steps | minutes | " + " | ".join(name for name, _, _ in MEASURES) + " |")
        print("|---|---:|---:|---:|" + "---:|" * len(MEASURES))
        for row in rows:
            picked = [result for (r, _), result in picked_by_key.items() if r == row]
            if not picked:
                continue
            cells = []
            for name, measure, _ in MEASURES:
                values = [measure(p["generated"], p["real"]) for p in picked]
                cells.append("-" if None in values else spread(values, percent="%" in name))
            minutes = spread([p["minutes"] for p in picked]) if label == timed else "-"
            print(f"| {row} | {len(picked)} | {spread([p['step'] for p in picked])} | {minutes} | "
                  + " | ".join(cells) + " |", flush=True)


EQUAL_TIME = "equal time (each run's last checkpoint)"


def equal_step_runs(runs: dict[tuple[str, int], Path], args: argparse.Namespace,
                    every: dict[str, int]) -> dict[tuple[str, int], tuple[Path, int]]:
    """For each run, a folder whose last checkpoint is at the fewest steps any row made in the
    time with the same seed: the run itself, or a copy trained to exactly that many steps (CPU
    training is deterministic from the seed, so the copy is the run at that step)."""
    at_step = {}
    for (row, seed), run_dir in runs.items():
        step = min(last_step(d) for (_, other), d in runs.items() if other == seed)
        if step in {int(p.stem.split("-")[1]) for p in list_checkpoints(run_dir)}:
            at_step[row, seed] = run_dir, step
            continue
        copy = run_dir.with_name(f"{run_dir.name}-steps{step}")
        command = train_command(args.recipe, every[row], [*ROWS[row], f"train.seed={seed}", f"train.steps={step}",
                                                          "train.max_minutes=null"], args.data, copy, args.minutes,
                                args.threads)
        train_rows([command], parallel=False, logs=args.out)
        at_step[row, seed] = copy, step
    return at_step


def time_to_accuracy(results: list[dict], target: float) -> dict | None:
    """The first scored checkpoint whose label accuracy reaches `target`, or None."""
    return next((r for r in results if (r["generated"]["accuracy"] or 0.0) >= target), None)


def print_time_to_accuracy(everything: dict[str, list[dict]], target: float, minutes: float) -> None:
    print(f"\ntime to label accuracy >= {target:.2f} (training minutes, first checkpoint that reaches it)")
    reached = {row: time_to_accuracy(results, target) for row, results in everything.items()}
    first_row = next(iter(everything))
    for row, hit in reached.items():
        if hit is None:
            print(f"{row}: not reached in {minutes:g} minutes (best {max((r['generated']['accuracy'] or 0.0) for r in everything[row]):.3f})")
            continue
        line = f"{row}: {hit['minutes']:.1f} minutes (step {hit['step']}, accuracy {hit['generated']['accuracy']:.3f})"
        baseline = reached[first_row]
        if row != first_row:
            limit = baseline["minutes"] if baseline else minutes
            line += f"; {limit / hit['minutes']:.1f}x sooner than {first_row}" + ("" if baseline else " at least")
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="digits")
    parser.add_argument("--data", required=True, help="the recipe's data (FSDD recordings/ or the MNIST folder)")
    parser.add_argument("--rows", nargs="+", default=["wgan-gp-specgan-settings", "defaults"], choices=sorted(ROWS))
    parser.add_argument("--seeds", type=int, default=1, help="runs per row, train.seed 0 .. seeds-1")
    parser.add_argument("--minutes", type=float, default=15.0, help="training wall time per run")
    parser.add_argument("--out", type=Path, default=Path("/tmp/quality"))
    parser.add_argument("--n", type=int, help="samples per evaluation (default: the held-out split's size)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--vocoder", help="decode generated and held-out clips with this vocoder file when scoring "
                                          "(default: Griffin-Lim matched to the mels)")
    parser.add_argument("--checkpoint-scale", type=float, default=1.0,
                        help="multiply the steps between checkpoints (4 for hour-long runs)")
    parser.add_argument("--score", choices=["all", "compare"], default="all",
                        help="every checkpoint, or the last and the equal-steps one of each run")
    parser.add_argument("--at-steps", type=int, nargs="+",
                        help="with --score all: score only these steps' checkpoints and each run's last, and "
                             "compare the rows at each (mean and spread over seeds)")
    parser.add_argument("--score-only", action="store_true",
                        help="score existing run folders, train nothing (but the equal-steps copies of --score compare)")
    parser.add_argument("--parallel", action="store_true",
                        help="train each seed's rows side by side (give each --threads 1 on 2 cores)")
    parser.add_argument("--json", type=Path, help="also write every figure here")
    parser.add_argument("--target-accuracy", type=float, default=0.8, help="label accuracy for the time-to-quality line")
    args = parser.parse_args()
    if args.at_steps and args.score != "all":
        parser.error("--at-steps goes with --score all")
    torch.set_num_threads(args.threads)
    runs = {(row, seed): args.out / f"{args.recipe}-{row}-seed{seed}" for seed in range(args.seeds) for row in args.rows}
    every = {row: checkpoint_every(args.recipe, row, args.checkpoint_scale) for row in args.rows}
    if args.score == "compare":  # every row checkpoints at the same steps, so equal steps can be compared
        every = dict.fromkeys(args.rows, min(every.values()))
    if not args.score_only:
        for seed in range(args.seeds):
            train_rows([train_command(args.recipe, every[row], [*ROWS[row], f"train.seed={seed}"], args.data,
                                      runs[row, seed], args.minutes, args.threads)
                        for row in args.rows], args.parallel, args.out)
    if args.score == "compare":
        copies = equal_step_runs(runs, args, every)
        at_time = {key: score_run(run_dir, args.data, args.n, set(), args.vocoder)[-1] for key, run_dir in runs.items()}
        at_steps = {key: next(r for r in score_run(folder, args.data, args.n, {step}, args.vocoder) if r["step"] == step)
                    for key, (folder, step) in copies.items()}
        everything = {key: [at_steps[key], at_time[key]] if at_steps[key]["step"] != at_time[key]["step"]
                      else [at_time[key]] for key in runs}
    else:
        steps = set(args.at_steps) if args.at_steps else None
        everything = {key: score_run(run_dir, args.data, args.n, steps, args.vocoder) for key, run_dir in runs.items()}
    first = next((results[0] for results in everything.values() if results), None)
    if first is None:
        sys.exit("no checkpoints to score")
    print()
    print_reference(first)
    for (row, seed), results in everything.items():
        print_row(f"{row}, seed {seed}", results)
    if args.score == "compare":
        print_comparison([(EQUAL_TIME, at_time), ("equal steps (each seed's slowest row's last step)", at_steps)],
                         EQUAL_TIME)
    elif args.at_steps:
        last = {key: results[-1] for key, results in everything.items() if results}
        print_comparison([(EQUAL_TIME, last), *((f"at step {step}", {key: r for key, results in everything.items()
                                                                    for r in results if r["step"] == step})
                                                for step in args.at_steps)], EQUAL_TIME)
    by_row = {f"{row}, seed {seed}": results for (row, seed), results in everything.items()}
    print_time_to_accuracy(by_row, args.target_accuracy, args.minutes)
    if args.json:
        args.json.write_text(json.dumps(by_row, indent=1))


if __name__ == "__main__":
    main()
