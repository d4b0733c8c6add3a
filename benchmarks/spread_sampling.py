"""How much a label's spread (`ganaudio evaluate`'s least label spread) moves with the latent
seed alone, measured on few samples a label or on many: one model, the same held-out clips,
only the draw changes. On a drum kit `evaluate`'s default n (the 27 held-out clips) leaves 4
or 5 clips a label; evaluate.SPREAD_PER_LABEL is the floor this benchmark argued for.

    OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=1 python benchmarks/spread_sampling.py \\
        --checkpoint runs/drums/seed0/checkpoint-0002868.pt --data ../shared/data/drumkits \\
        --sizes 27 180 --seeds 0 1 2 3 4 5 6 7 8 9

Prints, per number of samples (labels cycling as in `evaluate`), each label's spread over the
seeds (mean, standard deviation, lowest, highest) and the least label spread's range.
"""

from __future__ import annotations

import argparse
import statistics

from ganaudio.config import with_data_root
from ganaudio.evaluate import Reference
from ganaudio.synth import Synthesizer


def spreads_by_seed(synthesizer: Synthesizer, reference: Reference, n: int, seeds: list[int]) -> list[dict[str, float]]:
    """Per seed, every label's spread of `n` samples against the held-out clips."""
    labels = synthesizer.label_indices(None, n)
    runs = []
    for seed in seeds:
        runs.append(reference.spreads(synthesizer.generate(n, seed=seed, level=False).samples, labels))
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--data", required=True, help="the data the model was trained on")
    parser.add_argument("--vocoder", default=None, help="as for `ganaudio evaluate` (default: the model's decoder)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[27, 180], help="samples drawn, all labels together")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(10)))
    args = parser.parse_args()
    synthesizer = Synthesizer.from_checkpoint(args.checkpoint, vocoder=args.vocoder)
    if not synthesizer.labels or synthesizer.vocoder is None:
        parser.error(f"{args.checkpoint}: written for conditional audio models (labels and a vocoder)")
    reference = Reference.for_recipe(with_data_root(synthesizer.recipe, args.data))
    reference.require_labels(synthesizer.labels, args.checkpoint)
    for n in args.sizes:
        runs = spreads_by_seed(synthesizer, reference, n, args.seeds)
        print(f"\n{n} samples ({n / len(synthesizer.labels):.1f} a label), {len(args.seeds)} latent seeds:")
        for name in runs[0]:
            values = [run[name] for run in runs]
            print(f"  {name:10s} mean {statistics.mean(values):.2f}  sd {statistics.stdev(values):.2f}  "
                  f"lowest {min(values):.2f}  highest {max(values):.2f}")
        least = [min(run.values()) for run in runs]
        print(f"  least label spread: {min(least):.2f}-{max(least):.2f}; under 0.5 for "
              f"{sum(value < 0.5 for value in least)} of {len(least)} seeds")


if __name__ == "__main__":
    main()
