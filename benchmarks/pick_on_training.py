"""Pick one model among several trained ones without looking at the held-out clips: score each
on `ganaudio evaluate`'s figures against the real *training* clips the trainer's evaluations
use (Reference.selection, as many as the held-out split), and rank by the classifier's Frechet
distance there, the figure best.pt is picked on. The held-out figures of the one picked,
from `ganaudio evaluate`, then come from clips no choice was made on.

    OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=1 python benchmarks/pick_on_training.py \\
        --data ../shared/data/fsdd/recordings --vocoder ganaudio/pretrained/digits-vocoder.pt \\
        --n 1000 --seeds 0 1 2 --models bundled runs/a.pt runs/b.pt

`bundled` names the bundled digits model (the one installed now). Prints one row per model: the mean over the latent
seeds of each figure, lowest Frechet distance first.
"""

from __future__ import annotations

import argparse
import statistics

from ganaudio.config import with_data_root
from ganaudio.evaluate import Reference
from ganaudio.synth import Synthesizer

FIGURES = ("accuracy", "frechet_distance", "signal_frechet_distance", "precision", "recall")


def training_figures(model: str, data: str, vocoder: str | None, n: int, seeds: list[int]) -> dict[str, float]:
    """Each figure's mean over `seeds`, of `n` samples against the training selection clips."""
    synthesizer = Synthesizer.from_checkpoint(None if model == "bundled" else model, vocoder=vocoder)
    reference = Reference.for_recipe(with_data_root(synthesizer.recipe, data))
    reference.require_labels(synthesizer.labels, model)
    labels = synthesizer.label_indices(None, n)
    runs = []
    for seed in seeds:
        generated = synthesizer.generate(n, seed=seed, level=False)
        runs.append(reference.score(generated.samples, labels, against=reference.selection))
    return {name: statistics.mean(getattr(scores, name) for scores in runs) for name in FIGURES}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True)
    parser.add_argument("--vocoder", help="decode every model with this vocoder (default: each model's own)")
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--models", nargs="+", required=True)
    args = parser.parse_args()
    rows = {model: training_figures(model, args.data, args.vocoder, args.n, args.seeds) for model in args.models}
    print("| model | " + " | ".join(FIGURES) + " |")
    print("|---|" + "---:|" * len(FIGURES))
    for model, figures in sorted(rows.items(), key=lambda item: item[1]["frechet_distance"]):
        print(f"| {model} | " + " | ".join(f"{figures[name]:.3f}" for name in FIGURES) + " |")


if __name__ == "__main__":
    main()
