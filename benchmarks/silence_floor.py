"""Where in a clip the signal statistics tell a model from real data, with and without the
noise floor they hear clips over (evaluate.STATISTICS_FLOOR_DBFS).

    OMP_WAIT_POLICY=PASSIVE python benchmarks/silence_floor.py --data ../shared/data/fsdd/recordings \\
        [--checkpoint runs/x/checkpoint.pt] [--vocoder ganaudio/pretrained/digits-vocoder.pt]

Prints, for real held-out clips, the same clips through the model's features and vocoder, and
`--n` generated clips (all levelled as `ganaudio evaluate` levels them):
- the RMS of each clip's first and last eighth in dB below its peak (mean over clips: the
  padding of centred words is digital silence in real clips);
- with the floor and without it (the statistics before format 6): the dimensions of the
  statistics on which the generated clips sit furthest from the real held-out ones, as a
  shift of the mean and a ratio of the spread, both in units of the real held-out spread;
  and precision, recall and the Frechet distance against real held-out clips.
"""

from __future__ import annotations

import argparse
import dataclasses

import torch

import ganaudio.evaluate as evaluate
from ganaudio.data import load_dataset
from ganaudio.evaluate import Reference, SignalStatistics, fixed_subset, frechet_distance, precision_recall
from ganaudio.synth import Synthesizer

NAMES = ([f"MFCC {i} mean" for i in range(evaluate.STATISTICS_MFCCS)]
         + [f"MFCC {i} spread" for i in range(evaluate.STATISTICS_MFCCS)]
         + [f"loudness, eighth {i + 1}" for i in range(evaluate.STATISTICS_SEGMENTS)])


def edge_db(waveforms: torch.Tensor) -> float:
    """Mean over clips of the RMS of the first and last eighth, in dB below the clip's peak."""
    eighth = waveforms.shape[1] // 8
    edges = torch.cat([waveforms[:, :eighth], waveforms[:, -eighth:]], dim=1)
    ratio = edges.pow(2).mean(1) / waveforms.abs().amax(1).pow(2)
    return float((10 * torch.log10(ratio + 1e-15)).mean())


def compare(floor_dbfs: float, sample_rate: int, train: torch.Tensor, test: torch.Tensor,
            made: dict[str, torch.Tensor]) -> None:
    evaluate.STATISTICS_FLOOR_DBFS = floor_dbfs  # read when SignalStatistics is built
    statistics = SignalStatistics(sample_rate)
    statistics.fit(train)
    real_test, real_train = statistics(test), statistics(train[fixed_subset(len(train), len(test))])
    precision, recall = precision_recall(real_train, real_test)
    print(f"\nfloor {floor_dbfs} dBFS; real training vs held-out: precision {precision:.3f}, recall {recall:.3f}, "
          f"Frechet distance {frechet_distance(real_train, real_test):.2f}")
    spread = real_test.std(0)
    for name, clips in made.items():
        embedded = statistics(clips)
        precision, recall = precision_recall(embedded, real_test)
        shift = (embedded.mean(0) - real_test.mean(0)) / spread
        ratio = embedded.std(0) / spread
        worst = (shift.abs() + ratio.log().abs()).argsort(descending=True)[:6].tolist()
        print(f"  {name}: precision {precision:.3f}, recall {recall:.3f}, Frechet distance "
              f"{frechet_distance(embedded, real_test):.2f}; furthest: "
              + "; ".join(f"{NAMES[i]} {float(shift[i]):+.2f} (spread x{float(ratio[i]):.2f})" for i in worst))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--checkpoint", help="default: the bundled digits model")
    parser.add_argument("--vocoder", default=None)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    synth = Synthesizer.from_checkpoint(args.checkpoint, vocoder=args.vocoder)
    recipe = dataclasses.replace(synth.recipe, data=dataclasses.replace(synth.recipe.data, root=args.data))
    reference = Reference.for_recipe(recipe)  # for its levelling; its cached statistics are not used
    clips = evaluate.read_audio_clips(recipe)
    is_train = torch.tensor([s == "train" for s in clips.splits])
    train, test = clips.waveforms[is_train], clips.waveforms[~is_train]
    made = {"real held-out via the vocoder": reference.level(synth.vocode(load_dataset(recipe, "test").samples)),
            "generated": reference.level(synth.generate(args.n, seed=args.seed, level=False).samples)}
    print(f"first and last eighth, RMS in dB below the clip's peak: real held-out {edge_db(test):.1f}, "
          + ", ".join(f"{name} {edge_db(clips):.1f}" for name, clips in made.items()))
    for floor in (evaluate.STATISTICS_FLOOR_DBFS, float("-inf")):
        compare(floor, synth.sample_rate, train, test, made)


if __name__ == "__main__":
    main()
