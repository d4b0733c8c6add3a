"""What each sample rate costs on this machine, and what the inversion keeps of a sound there.

    OMP_WAIT_POLICY=PASSIVE python benchmarks/rates.py --data ../shared/data/drumkits \
        [--recipe drums] [--rates 16000 22050 44100 48000]

For each rate the recipe's features are scaled to it so that a frame means about the same time
(hops of 10.7-12 ms, n_fft four hops; HOPS below) and a clip is 64 frames. Run it as a script
(it imports griffin_lim_fsdd from beside it); it measures on the CPU. Each rate runs in a
child process, so its peak resident memory is its own. Per rate:
- features: reading, aligning and featurising the folder with a cold cache;
- training: ms per step of the recipe's networks at its batch size (median of rounds);
- synthesis: 64 clips through the generator, the inverse mel scale and Griffin-Lim (the
  recipe's iterations), as times faster than real time;
- round trip: every held-out clip encoded and decoded by Griffin-Lim, against the clip itself:
  spectral convergence (0 is perfect) and log-spectral distance in dB, each on an STFT of
  about 46 ms;
- peak resident memory of the child (wait4).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import torch

from griffin_lim_fsdd import spectral_convergence_and_lsd
from ganaudio.config import load_recipe
from ganaudio.data import load_dataset, mel_features, read_audio_clips
from ganaudio.train import Trainer

HOPS = {8000: (96, 384), 16000: (192, 768), 22050: (256, 1024), 44100: (512, 2048), 48000: (512, 2048)}
FRAMES = 64


def recipe_at(name: str, data: str, rate: int):
    hop, n_fft = HOPS[rate]
    recipe = load_recipe(name, [f"features.sample_rate={rate}", f"features.hop_length={hop}",
                                f"features.n_fft={n_fft}", f"features.clip_seconds={FRAMES * hop / rate}",
                                "train.device=cpu"],
                         data_root=data)
    assert recipe.features.frames == FRAMES, recipe.features
    return recipe


def median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure_one_rate(args: argparse.Namespace) -> dict:
    recipe = recipe_at(args.recipe, args.data, args.one)
    with tempfile.TemporaryDirectory() as cache:
        recipe = dataclasses.replace(recipe, data=dataclasses.replace(recipe.data, cache_dir=cache))
        started = time.perf_counter()
        train = load_dataset(recipe)
        features_s = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(recipe, train, run_dir)
        for _ in range(3):  # warm-up: oneDNN picks its kernels on the first calls
            trainer.train_step()
        step_s = statistics.median(median_seconds(trainer.train_step, 1) for _ in range(args.steps))
    features = mel_features(recipe, train)
    generator = trainer.state.generator.eval()
    labels = torch.arange(64) % max(train.num_classes, 1) if train.num_classes else None
    z = torch.randn(64, generator.latent_dim, generator=torch.Generator().manual_seed(0))

    @torch.no_grad()
    def synthesize() -> torch.Tensor:
        return features.decode(generator(z, labels))

    synth_s = median_seconds(synthesize, 3)
    clips = read_audio_clips(recipe)
    held_out = clips.waveforms[torch.tensor([s == "test" for s in clips.splits])]
    decoded = features.decode(features.encode(held_out))
    hop, n_fft = HOPS[args.one]
    convergence, lsd = spectral_convergence_and_lsd(held_out, decoded, n_fft, hop)
    seconds = recipe.features.clip_samples / recipe.features.sample_rate
    return {"rate": args.one, "hop": hop, "n_fft": n_fft, "clip_seconds": seconds, "features_s": features_s,
            "clips": len(clips.splits), "step_ms": 1000 * step_s, "batch": recipe.train.batch_size,
            "synth_x_real_time": 64 * seconds / synth_s, "held_out": len(held_out),
            "convergence": convergence, "lsd_db": lsd}


def run_child(args: argparse.Namespace, rate: int) -> dict:
    command = [sys.executable, __file__, "--data", args.data, "--recipe", args.recipe, "--steps", str(args.steps),
               "--one", str(rate)]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    if os.waitstatus_to_exitcode(status):
        sys.exit(f"rate {rate}: the measuring process failed")
    return {**json.loads(output.strip().splitlines()[-1]), "peak_mib": usage.ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="a labelled folder of clips (e.g. ../shared/data/drumkits)")
    parser.add_argument("--recipe", default="drums")
    parser.add_argument("--rates", type=int, nargs="+", default=[16000, 22050, 44100, 48000], choices=sorted(HOPS))
    parser.add_argument("--steps", type=int, default=10, help="timed training steps per rate")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # the child: measure one rate, print JSON
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure_one_rate(args)))
        return
    print(f"recipe {args.recipe}, {args.data}; torch threads {torch.get_num_threads()}, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}")
    print("| rate | hop / n_fft | clip | features, cold (s) | training ms/step | synthesis, x real time | "
          "round trip: spectral convergence | log-spectral distance | peak memory (MiB) |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for rate in args.rates:
        row = run_child(args, rate)
        print(f"| {rate} | {row['hop']} / {row['n_fft']} | {row['clip_seconds']:.3f} s | {row['features_s']:.1f} | "
              f"{row['step_ms']:.0f} | {row['synth_x_real_time']:.0f}x | {row['convergence']:.3f} | "
              f"{row['lsd_db']:.2f} dB | {row['peak_mib']:.0f} |", flush=True)
    print(f"({row['clips']} clips, {row['held_out']} held out; training at batch {row['batch']})")


if __name__ == "__main__":
    main()
