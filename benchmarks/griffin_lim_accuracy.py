"""Does the Griffin-Lim iteration count change what a classifier hears in generated digits?

    OMP_WAIT_POLICY=PASSIVE python benchmarks/griffin_lim_accuracy.py --data ../shared/data/fsdd/recordings

The bundled digits model makes `--per-label` clips per digit; each set is inverted to audio
with K Griffin-Lim iterations, encoded again exactly as real clips are, and scored by the
reference CNN (benchmarks/reference.py) trained on the real training split. Real held-out
clips, round-tripped the same way, are the reference.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference import frechet_distance, predict_and_embed, train_reference  # noqa: E402

from ganaudio.config import load_recipe  # noqa: E402
from ganaudio.data import load_dataset  # noqa: E402
from ganaudio.synth import Synthesizer  # noqa: E402


def round_trip(features, samples: torch.Tensor, iters: int) -> torch.Tensor:
    audio = torch.cat([features.decode(chunk, n_iter=iters) for chunk in samples.split(50)])
    return features.encode(audio)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--per-label", type=int, default=50)
    parser.add_argument("--iters", type=int, nargs="+", default=[8, 16, 32, 64])
    args = parser.parse_args()
    synth = Synthesizer.from_checkpoint()
    recipe = load_recipe("digits", data_root=args.data)
    train, test = load_dataset(recipe, "train"), load_dataset(recipe, "test")
    features = synth.vocoder.features  # the bundled model's own feature statistics
    classifier = train_reference(train.samples, train.labels, train.num_classes)
    _, test_embed = predict_and_embed(classifier, test.samples)
    made = synth.generate(10 * args.per_label, labels=[str(d) for d in range(10) for _ in range(args.per_label)],
                          seed=123)
    labels = torch.tensor([int(name) for name in made.labels])
    print("| Griffin-Lim iterations | generated: label accuracy | generated: Frechet | real held-out: label accuracy |")
    print("|---:|---:|---:|---:|")
    for iters in args.iters:
        predicted, embeddings = predict_and_embed(classifier, round_trip(features, made.features, iters))
        real_predicted, _ = predict_and_embed(classifier, round_trip(features, test.samples, iters))
        print(f"| {iters} | {float((predicted == labels).float().mean()):.3f} | "
              f"{frechet_distance(embeddings, test_embed):.2f} | {float((real_predicted == test.labels).float().mean()):.3f} |")


if __name__ == "__main__":
    main()
