"""Does GAN augmentation help a low-data digit classifier? Four conditions side by side.

    OMP_WAIT_POLICY=PASSIVE python benchmarks/augment_fsdd.py --data ../shared/data/fsdd/recordings \\
        --per-digit 5 20 --seeds 0 1 --gan-minutes 3

For each number of real clips per digit and each seed: draw that many training clips per
digit from FSDD's train split, train a digits GAN on those clips only (`--gan-minutes`, with
DiffAugment, the small-data setting), and train the same small CNN classifier (ganaudio
evaluate's, on its own log-mels) for the same number of steps under four conditions:

1. real only;
2. real + classic augmentation (time shift, gain, noise, speed change: audiomentations'
   usual set, written here with torch ops so the benchmark needs nothing more);
3. real + `--synthetic-per-digit` GAN clips per digit;
4. real + GAN clips, all with classic augmentation.

Accuracy is on all 300 held-out clips (takes 0-4, every speaker). The GAN's feature
statistics come from the whole train split (per-mel mean and spread only).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import statistics
import tempfile
from pathlib import Path

import torch
from torch import nn

from ganaudio.audio import fit_length
from ganaudio.config import load_recipe
from ganaudio.data import Dataset, load_dataset, read_audio_clips
from ganaudio.evaluate import ClassifierInputs, ReferenceCNN
from ganaudio.synth import Synthesizer
from ganaudio.train import Trainer

CONDITIONS = ("real only", "real + classic", "real + GAN", "real + GAN + classic")


def classic_augment(waveforms: torch.Tensor, rng: torch.Generator, sample_rate: int) -> torch.Tensor:
    """Per clip: speed change x0.9-1.1, shift up to 100 ms, gain -6..+6 dB, noise at 15-40 dB SNR."""
    out = []
    for clip in waveforms:
        speed = 0.9 + 0.2 * float(torch.rand((), generator=rng))
        length = int(len(clip) / speed)
        clip = nn.functional.interpolate(clip.view(1, 1, -1), size=length, mode="linear", align_corners=False).view(-1)
        clip, _ = fit_length(clip, waveforms.shape[1])
        clip = torch.roll(clip, int(torch.randint(-sample_rate // 10, sample_rate // 10 + 1, (), generator=rng)))
        clip = clip * 10 ** ((12 * float(torch.rand((), generator=rng)) - 6) / 20)
        snr = 15 + 25 * float(torch.rand((), generator=rng))
        noise = torch.randn(len(clip), generator=rng) * clip.pow(2).mean().sqrt() * 10 ** (-snr / 20)
        out.append(clip + noise)
    return torch.stack(out)


def train_classifier(waveforms, labels, inputs: ClassifierInputs, augment: bool, steps: int, seed: int,
                     sample_rate: int) -> ReferenceCNN:
    torch.manual_seed(seed)
    model = ReferenceCNN(10)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    rng = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(steps):
        index = torch.randint(len(waveforms), (32,), generator=rng)
        batch = waveforms[index]
        if augment:
            batch = classic_augment(batch, rng, sample_rate)
        loss = nn.functional.cross_entropy(model(inputs(batch)), labels[index])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


@torch.no_grad()
def accuracy(model: ReferenceCNN, inputs: ClassifierInputs, waveforms, labels) -> float:
    predicted = torch.cat([model(inputs(chunk)).argmax(1) for chunk in waveforms.split(256)])
    return float((predicted == labels).float().mean())


def few_clips(labels: torch.Tensor, per_digit: int, seed: int) -> torch.Tensor:
    rng = torch.Generator().manual_seed(seed)
    picks = []
    for digit in range(10):
        where = torch.nonzero(labels == digit).flatten()
        picks.append(where[torch.randperm(len(where), generator=rng)[:per_digit]])
    return torch.cat(picks)


def train_gan(recipe, features: Dataset, index: torch.Tensor, minutes: float, seed: int, run_dir: Path) -> Path:
    subset = dataclasses.replace(features, samples=features.samples[index], labels=features.labels[index])
    train = dataclasses.replace(recipe.train, steps=10**6, max_minutes=minutes, seed=seed, eval_every=0,
                                sample_every=10**6, checkpoint_every=10**6, diffaugment_shift=0.125,
                                diffaugment_cutout=0.25)
    return Trainer(dataclasses.replace(recipe, train=train), subset, run_dir).fit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--per-digit", type=int, nargs="+", default=[5, 20])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--gan-minutes", type=float, default=3.0)
    parser.add_argument("--synthetic-per-digit", type=int, default=50)
    parser.add_argument("--classifier-steps", type=int, default=400)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    recipe = load_recipe("digits", data_root=args.data)
    clips = read_audio_clips(recipe)
    is_train = torch.tensor([s == "train" for s in clips.splits])
    train_w, train_y = clips.waveforms[is_train], clips.labels[is_train]
    test_w, test_y = clips.waveforms[~is_train], clips.labels[~is_train]
    features = load_dataset(recipe, "train")  # same clips, same order: GAN features of train_w
    assert torch.equal(features.labels, train_y)
    sample_rate = recipe.features.sample_rate
    results: dict[tuple[int, str], list[float]] = {}
    for per_digit in args.per_digit:
        for seed in args.seeds:
            index = few_clips(train_y, per_digit, seed)
            real_w, real_y = train_w[index], train_y[index]
            with tempfile.TemporaryDirectory() as run_dir:
                checkpoint = train_gan(recipe, features, index, args.gan_minutes, seed, Path(run_dir))
                made = Synthesizer.from_checkpoint(checkpoint).generate(
                    10 * args.synthetic_per_digit, labels=[str(d) for d in range(10) for _ in range(args.synthetic_per_digit)],
                    seed=seed)
            fake_y = torch.arange(10).repeat_interleave(args.synthetic_per_digit)
            inputs = ClassifierInputs(sample_rate)
            inputs.fit(real_w)
            for condition in CONDITIONS:
                use_gan = "GAN" in condition
                w = torch.cat([real_w, made.samples]) if use_gan else real_w
                y = torch.cat([real_y, fake_y]) if use_gan else real_y
                model = train_classifier(w, y, inputs, "classic" in condition, args.classifier_steps, seed, sample_rate)
                score = accuracy(model, inputs, test_w, test_y)
                results.setdefault((per_digit, condition), []).append(score)
                print(f"{per_digit} per digit, seed {seed}, {condition}: test accuracy {score:.3f}", flush=True)
    print(f"\n| real clips per digit | {' | '.join(CONDITIONS)} |")
    print("|---:|" + "---:|" * len(CONDITIONS))
    for per_digit in args.per_digit:
        cells = []
        for condition in CONDITIONS:
            scores = results[(per_digit, condition)]
            spread = statistics.stdev(scores) if len(scores) > 1 else math.nan
            cells.append(f"{statistics.mean(scores):.3f} +- {spread:.3f}")
        print(f"| {per_digit} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
