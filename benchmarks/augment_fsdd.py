"""Does GAN augmentation help a low-data digit classifier? Four conditions side by side.

    OMP_WAIT_POLICY=PASSIVE python benchmarks/augment_fsdd.py --data ../shared/data/fsdd/recordings \\
        --per-digit 5 20 --seeds 0 1 --gan-minutes 3

For each number of real clips per digit and each seed: draw that many training clips per
digit from FSDD's train split, train a digits GAN on those clips only (`--gan-minutes`, with
DiffAugment, the small-data setting), and train the same small CNN classifier (ganaudio
evaluate's, on its own log-mels) for the same number of steps under each condition
(CONDITIONS; `--conditions` picks them):

- real only;
- real + classic augmentation (time shift, gain, noise, speed change: audiomentations'
  usual set, written here with torch ops so the benchmark needs nothing more);
- real + `--synthetic-per-digit` GAN clips per digit, as a share of each batch (1/2, 1/4 or 1/8);
- the same with only the GAN clips that the real-only classifier of that seed hears as the
  digit asked for ("filtered": what `ganaudio augment --filter` does with the evaluation
  classifier, which is also trained on the real clips alone);
- real + GAN clips, all with classic augmentation;
- real + GAN clips (1/2 of each batch) for the first half of the steps, real only after (a
  schedule: the last steps learn from real clips alone).

Accuracy is on all 300 held-out clips (takes 0-4, every speaker). The GAN sees only the few
clips: its feature statistics are fitted on them too. Every condition trains for the same
number of steps on the same real batches; GAN clips take a share of each batch, so the real
clips are seen less often than in the real-only conditions, never drowned out. The classifier
trains with a one-cycle learning rate, and `--classifier-seeds K` averages K classifiers (other
initialisations and batch orders) per condition and seed, so that a condition's figure says
more about its data than about where one trajectory stopped. `--gan-cache DIR` keeps each
GAN's clips, so more conditions can be run later on the same clips.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import statistics
import sys
import tempfile
from pathlib import Path

import torch
from torch import nn

from ganaudio.audio import fit_length
from ganaudio.config import load_recipe
from ganaudio.data import Dataset, DataSummary, read_audio_clips
from ganaudio.evaluate import ClassifierInputs, ReferenceCNN
from ganaudio.features import MelFeatures, fit_statistics
from ganaudio.synth import Synthesizer
from ganaudio.train import Trainer


@dataclasses.dataclass(frozen=True)
class Condition:
    synthetic_share: float = 0.0  # of each batch of 32
    classic: bool = False  # classic augmentation of every clip in the batch
    filtered: bool = False  # only GAN clips the real-only classifier hears as the digit asked for
    real_finish: float = 0.0  # the last share of the steps see real clips only (a schedule)


CONDITIONS = {"real only": Condition(), "real + classic": Condition(classic=True),
              "real + GAN": Condition(0.5), "real + GAN + classic": Condition(0.5, classic=True),
              "real + GAN 1/4": Condition(0.25), "real + GAN filtered": Condition(0.5, filtered=True),
              "real + GAN 1/4 filtered": Condition(0.25, filtered=True), "real + GAN 1/8": Condition(0.125),
              "real + GAN, real last half": Condition(0.5, real_finish=0.5)}


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


def train_classifier(real: tuple, synthetic: tuple | None, inputs: ClassifierInputs, augment: bool, steps: int,
                     seed: int, sample_rate: int, synthetic_share: float = 0.0, real_finish: float = 0.0) -> ReferenceCNN:
    """Batches of 32: all real, or synthetic_share of them synthetic until the last real_finish
    of the steps. Real batches, synthetic draws and augmentation use separate generators, so
    every condition sees the same real batches."""
    torch.manual_seed(seed)
    model = ReferenceCNN(10)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    # One cycle, as the evaluation classifier trains: the rate falls to near zero by the last
    # step, so the accuracy is that of a settled model, not of wherever a constant rate stopped.
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=3e-3, total_steps=steps)
    batches, augmentation = torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed + 1)
    draws = torch.Generator().manual_seed(seed + 2)
    fake = round(32 * synthetic_share) if synthetic is not None else 0
    model.train()
    for step in range(steps):
        index = torch.randint(len(real[0]), (32,), generator=batches)
        batch, labels = real[0][index], real[1][index]
        if fake and step < steps * (1 - real_finish):
            extra = draw_balanced(synthetic[1], fake, draws)
            batch = torch.cat([batch[:32 - fake], synthetic[0][extra]])
            labels = torch.cat([labels[:32 - fake], synthetic[1][extra]])
        if augment:
            batch = classic_augment(batch, augmentation, sample_rate)
        loss = nn.functional.cross_entropy(model(inputs(batch)), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
    return model.eval()


def draw_balanced(labels: torch.Tensor, count: int, rng: torch.Generator) -> torch.Tensor:
    """`count` indices: a label at random among those present, then one of its clips, so that
    filtering out most clips of one digit leaves every digit as often in the batches."""
    present = labels.unique()
    chosen = present[torch.randint(len(present), (count,), generator=rng)]
    return torch.stack([(i := torch.nonzero(labels == k).flatten())[torch.randint(len(i), (), generator=rng)]
                        for k in chosen])


@torch.no_grad()
def heard_as_asked(model: ReferenceCNN, inputs: ClassifierInputs, waveforms: torch.Tensor,
                   labels: torch.Tensor) -> torch.Tensor:
    """Per clip, whether the classifier hears it as its label."""
    return torch.cat([model(inputs(chunk)).argmax(1) for chunk in waveforms.split(256)]) == labels


def accuracy(model: ReferenceCNN, inputs: ClassifierInputs, waveforms, labels) -> float:
    return float(heard_as_asked(model, inputs, waveforms, labels).float().mean())


def few_clips(labels: torch.Tensor, per_digit: int, seed: int) -> torch.Tensor:
    rng = torch.Generator().manual_seed(seed)
    picks = []
    for digit in range(10):
        where = torch.nonzero(labels == digit).flatten()
        picks.append(where[torch.randperm(len(where), generator=rng)[:per_digit]])
    return torch.cat(picks)


def train_gan(recipe, waveforms: torch.Tensor, labels: torch.Tensor, minutes: float | None, steps: int | None,
              seed: int, run_dir: Path) -> Path:
    """A digits GAN on these clips alone (feature statistics fitted on them too), with DiffAugment,
    for `steps` generator steps when given (the same GAN whatever else shares the cores), else
    for `minutes` of wall time."""
    features = MelFeatures(recipe.features)
    log_mels = features.log_mel(waveforms)
    features.statistics = fit_statistics(log_mels)
    subset = Dataset(samples=features.normalize(log_mels), labels=labels, label_names=[str(d) for d in range(10)],
                     split="train", summary=DataSummary(source="fsdd"), feature_state=features.state_dict())
    train = dataclasses.replace(recipe.train, steps=steps or 10**6, max_minutes=None if steps else minutes,
                                seed=seed, eval_every=0,
                                sample_every=10**6, checkpoint_every=10**6, diffaugment_shift=0.125,
                                diffaugment_cutout=0.25)
    return Trainer(dataclasses.replace(recipe, train=train), subset, run_dir).fit()


def gan_length(args: argparse.Namespace) -> str:
    """How long each GAN trained, as results and cache files name it."""
    return f"{args.gan_steps} steps" if args.gan_steps else f"{args.gan_minutes} min"


def gan_clips(recipe, real_w: torch.Tensor, real_y: torch.Tensor, args: argparse.Namespace, per_digit: int,
              seed: int) -> torch.Tensor:
    """The waveforms of --synthetic-per-digit clips per digit from a GAN trained on these
    clips alone, digit by digit; read from --gan-cache when an earlier run kept them."""
    name = f"{per_digit}-per-digit-seed{seed}-{gan_length(args).replace(' ', '')}-{args.synthetic_per_digit}-made.pt"
    cached = args.gan_cache / name if args.gan_cache else None
    if cached is not None and cached.is_file():
        saved = torch.load(cached)
        if saved["data"] != str(Path(args.data).resolve()):
            sys.exit(f"{cached}: made from {saved['data']}, not {args.data}: give another --gan-cache")
        return saved["waveforms"]
    with tempfile.TemporaryDirectory() as run_dir:
        checkpoint = train_gan(recipe, real_w, real_y, args.gan_minutes, args.gan_steps, seed, Path(run_dir))
        made = Synthesizer.from_checkpoint(checkpoint).generate(
            10 * args.synthetic_per_digit, labels=[str(d) for d in range(10) for _ in range(args.synthetic_per_digit)],
            seed=seed).samples
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"waveforms": made, "data": str(Path(args.data).resolve())}, cached)
    return made


def print_tables(records: list[dict]) -> None:
    """Mean +- standard deviation over seeds per condition, then each condition's change against
    real only, seed by seed, in points (the test of "never hurts"). A seed without a result
    (e.g. a filter that kept no clip) shows as "-" in its place and as a smaller n in the mean."""
    lengths = {r.get("gan", "unknown length") for r in records if CONDITIONS[r["condition"]].synthetic_share}
    if len(lengths) > 1:  # runs with GANs of other lengths merged: say which GAN made the clips
        records = [{**r, "condition": f"{r['condition']} ({r.get('gan', 'unknown length')} GAN)"}
                   if CONDITIONS[r["condition"]].synthetic_share else r for r in records]
    conditions = list(dict.fromkeys(r["condition"] for r in records))
    per_digits = sorted({r["per_digit"] for r in records})
    score = {(r["per_digit"], r["condition"], r["seed"]): r["accuracy"] for r in records}
    seeds = {d: sorted({r["seed"] for r in records if r["per_digit"] == d}) for d in per_digits}
    print(f"\n| real clips per digit | {' | '.join(conditions)} |")
    print("|---:|" + "---:|" * len(conditions))
    for d in per_digits:
        cells = []
        for c in conditions:
            scores = [score[d, c, s] for s in seeds[d] if (d, c, s) in score]
            spread = statistics.stdev(scores) if len(scores) > 1 else math.nan
            short = f" (n={len(scores)})" if len(scores) < len(seeds[d]) else ""
            cells.append(f"{statistics.mean(scores):.3f} +- {spread:.3f}{short}" if scores else "-")
        print(f"| {d} | " + " | ".join(cells) + " |")
    others = [c for c in conditions if c != "real only"]
    if "real only" not in conditions or not others:
        return
    names = ", ".join(str(s) for s in sorted({r["seed"] for r in records}))
    print(f"\nChange against real only, per seed ({names}; points):\n\n| real clips per digit | {' | '.join(others)} |")
    print("|---:|" + "---|" * len(others))
    for d in per_digits:
        cells = [", ".join(f"{100 * (score[d, c, s] - score[d, 'real only', s]):+.1f}"
                           if (d, c, s) in score and (d, "real only", s) in score else "-" for s in seeds[d])
                 for c in others]
        print(f"| {d} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data")
    parser.add_argument("--per-digit", type=int, nargs="+", default=[5, 20])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--gan-minutes", type=float, default=3.0)
    parser.add_argument("--gan-steps", type=int, help="train each GAN this many steps instead of --gan-minutes")
    parser.add_argument("--synthetic-per-digit", type=int, default=50)
    parser.add_argument("--classifier-steps", type=int, default=400)
    parser.add_argument("--classifier-seeds", type=int, default=1,
                        help="classifiers per condition and seed (initialisation and batch order); accuracy is their mean")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--conditions", nargs="+", default=list(CONDITIONS)[:4], choices=list(CONDITIONS))
    parser.add_argument("--gan-cache", type=Path, help="keep (and reuse) each GAN's clips in this folder")
    parser.add_argument("--json", type=Path, help="write each (clips per digit, seed, condition) result here")
    parser.add_argument("--merge", type=Path, nargs="+", metavar="JSON",
                        help="print the tables of results written by earlier runs' --json (e.g. runs split over cores)")
    args = parser.parse_args()
    if args.merge:
        print_tables([r for path in args.merge for r in json.loads(path.read_text())])
        return
    if not args.data:
        parser.error("--data is needed unless --merge")
    torch.set_num_threads(args.threads)
    recipe = load_recipe("digits", data_root=args.data)
    clips = read_audio_clips(recipe)
    is_train = torch.tensor([s == "train" for s in clips.splits])
    train_w, train_y = clips.waveforms[is_train], clips.labels[is_train]
    test_w, test_y = clips.waveforms[~is_train], clips.labels[~is_train]
    assert clips.label_names == [str(d) for d in range(10)]
    sample_rate = recipe.features.sample_rate
    conditions = list(args.conditions)
    if any(CONDITIONS[c].filtered for c in conditions) and "real only" not in conditions:
        conditions.insert(0, "real only")  # its classifier is the filter
    records: list[dict] = []
    for per_digit in args.per_digit:
        for seed in args.seeds:
            index = few_clips(train_y, per_digit, seed)
            real_w, real_y = train_w[index], train_y[index]
            made = gan_clips(recipe, real_w, real_y, args, per_digit, seed)
            fake_y = torch.arange(10).repeat_interleave(args.synthetic_per_digit)
            inputs = ClassifierInputs(sample_rate)
            inputs.fit(real_w)
            kept = None
            for name in conditions:
                condition = CONDITIONS[name]
                synthetic = (made, fake_y) if condition.synthetic_share else None
                if condition.filtered:
                    if not kept.any():
                        print(f"{per_digit} per digit, seed {seed}, {name}: skipped, the filter kept no GAN clip")
                        continue
                    synthetic = (made[kept], fake_y[kept])
                scores = []
                for k in range(args.classifier_seeds):
                    model = train_classifier((real_w, real_y), synthetic, inputs, condition.classic,
                                             args.classifier_steps, 1000 * seed + k, sample_rate,
                                             condition.synthetic_share, condition.real_finish)
                    if name == "real only" and k == 0:
                        kept = heard_as_asked(model, inputs, made, fake_y)
                    scores.append(accuracy(model, inputs, test_w, test_y))
                score = statistics.mean(scores)
                heard = fake_y[kept].bincount(minlength=10).tolist() if kept is not None else None
                if name in args.conditions:
                    records.append({"per_digit": per_digit, "seed": seed, "condition": name, "gan": gan_length(args),
                                    "accuracy": score,
                                    "classifier_scores": scores, "gan_clips_heard_as_asked": heard})
                note = f" (GAN clips kept per digit: {heard} of {args.synthetic_per_digit})" if condition.filtered else ""
                print(f"{per_digit} per digit, seed {seed}, {name}: test accuracy {score:.3f}{note}", flush=True)
                if args.json:
                    args.json.write_text(json.dumps(records, indent=1))
    print_tables(records)


if __name__ == "__main__":
    main()
