"""Soak: train a recipe for a long stretch with a checkpoint every few seconds and watch that the
process's memory stays flat and the run folder stays bounded by train.keep_checkpoints.

    OMP_WAIT_POLICY=PASSIVE python benchmarks/soak.py --data ../shared/data/mnist --minutes 20

Runs `ganaudio train RECIPE` (with its sample grids and evaluations) as a child process and
samples its resident memory (/proc/PID/status, Linux) and the run folder's size and checkpoint
count every --every seconds. Prints one row a minute, then the growth of memory from the end
of the first minutes (--settle) to the end, the largest folder, and how many checkpoints were
written in all.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def resident_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def folder_mib(folder: Path) -> tuple[float, int]:
    """(size of the files in MiB, number of checkpoints), tolerating files that vanish mid-scan."""
    total, checkpoints = 0, 0
    for path in folder.glob("*") if folder.is_dir() else []:
        try:
            total += path.stat().st_size
        except FileNotFoundError:
            continue
        checkpoints += path.name.startswith("checkpoint-")
    return total / 2 ** 20, checkpoints


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="mnist")
    parser.add_argument("--data", help="the recipe's data")
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument("--checkpoint-every", type=int, default=30, help="steps (mnist: ~3 s on 2 cores)")
    parser.add_argument("--keep", type=int, default=3, help="train.keep_checkpoints")
    parser.add_argument("--every", type=float, default=5.0, help="seconds between samples")
    parser.add_argument("--settle", type=float, default=2.0, help="minutes before memory counts as settled")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        run = Path(scratch) / "run"
        command = [sys.executable, "-m", "ganaudio", "train", args.recipe, "--out", str(run),
                   "--set", "train.steps=1000000000", "--set", f"train.max_minutes={args.minutes}",
                   "--set", f"train.checkpoint_every={args.checkpoint_every}",
                   "--set", f"train.keep_checkpoints={args.keep}"]
        if args.data:
            command += ["--data", args.data]
        print("$", " ".join(command), flush=True)
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started, samples = time.monotonic(), []
        while child.poll() is None:
            rss = resident_mib(child.pid)
            size, checkpoints = folder_mib(run)
            if rss is not None:
                samples.append((time.monotonic() - started, rss, size, checkpoints))
            time.sleep(args.every)
        if child.returncode:
            sys.exit(f"training failed with exit code {child.returncode}")
        rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line]
        last_step = max(row["step"] for row in rows)
    print("| minute | resident memory (MiB) | run folder (MiB) | checkpoints in it |")
    print("|---:|---:|---:|---:|")
    for minute in range(1, int(samples[-1][0] // 60) + 1):
        at = min(samples, key=lambda s: abs(s[0] - 60 * minute))
        print(f"| {minute} | {at[1]:.0f} | {at[2]:.1f} | {at[3]} |")
    settled = [s for s in samples if s[0] >= 60 * args.settle]
    first, peak_late = settled[0][1], max(s[1] for s in settled)
    print(f"\n{last_step} steps, {last_step // args.checkpoint_every} checkpoints written "
          f"(every {args.checkpoint_every} steps, {60 * args.minutes * args.checkpoint_every / last_step:.1f} s apart), "
          f"keep_checkpoints {args.keep}")
    print(f"resident memory: {first:.0f} MiB at {args.settle:g} min, {samples[-1][1]:.0f} MiB at the end, "
          f"peak after {args.settle:g} min {peak_late:.0f} MiB ({peak_late - first:+.0f} MiB)")
    print(f"run folder: at most {max(s[2] for s in samples):.1f} MiB and {max(s[3] for s in samples)} checkpoints")
    print(f"machine: {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
