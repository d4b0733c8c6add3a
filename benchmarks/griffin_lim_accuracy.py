"""Does the Griffin-Lim iteration count change what a classifier hears in generated digits?

    OMP_WAIT_POLICY=PASSIVE python benchmarks/griffin_lim_accuracy.py --data ../shared/data/fsdd/recordings

The bundled digits model makes `--per-label` clips per digit; each set is inverted to audio
with K Griffin-Lim iterations and scored by `ganaudio evaluate`'s reference classifier
(trained on the real training split, scored against the real held-out clips). The real
held-out clips, taken through the same features and K iterations, are scored beside them.
"""

from __future__ import annotations

import argparse

import torch

from ganaudio.config import load_recipe
from ganaudio.data import read_audio_clips
from ganaudio.evaluate import Reference
from ganaudio.synth import Synthesizer


def decode(features, samples: torch.Tensor, iters: int) -> torch.Tensor:
    return torch.cat([features.decode(chunk, n_iter=iters) for chunk in samples.split(50)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--per-label", type=int, default=50)
    parser.add_argument("--iters", type=int, nargs="+", default=[8, 16, 32, 64])
    args = parser.parse_args()
    synth = Synthesizer.from_checkpoint()
    recipe = load_recipe("digits", data_root=args.data)
    reference = Reference.for_recipe(recipe)
    clips = read_audio_clips(recipe)
    held_out = torch.tensor([s == "test" for s in clips.splits])
    real_mels = synth.vocoder.features.encode(clips.waveforms[held_out])  # the bundled model's statistics
    real_labels = clips.labels[held_out]
    made = synth.generate(10 * args.per_label, labels=[str(d) for d in range(10) for _ in range(args.per_label)],
                          seed=123)
    labels = torch.tensor([int(name) for name in made.labels])
    features = synth.vocoder.features
    print(f"real held-out clips as they are: accuracy {reference.real.accuracy:.3f}")
    print("| Griffin-Lim iterations | generated: label accuracy | generated: Frechet distance | "
          "real held-out through the features: label accuracy | its Frechet distance |")
    print("|---:|---:|---:|---:|---:|")
    for iters in args.iters:
        generated = reference.score(decode(features, made.features, iters), labels)
        real = reference.score(decode(features, real_mels, iters), real_labels)
        print(f"| {iters} | {generated.accuracy:.3f} | {generated.frechet_distance:.2f} | {real.accuracy:.3f} | "
              f"{real.frechet_distance:.2f} |", flush=True)


if __name__ == "__main__":
    main()
