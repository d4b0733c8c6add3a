"""How the latent temperature trades fidelity for variety, and which one a model should ship with.

    OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=1 python benchmarks/temperature.py \\
        --data ../shared/data/fsdd/recordings --temperatures 0.8 1.0 1.2 1.4 1.6 --seeds 3 --n 1000 \\
        --plot /tmp/temperature.png

For each temperature (synth.check_temperature: z ~ N(0, T^2)) and latent seed, one set of `--n`
clips of the model (default: the bundled digits model through its vocoder) is scored twice by
`ganaudio evaluate`'s figures: against the real *training* clips the trainer picks best.pt on
(the reference's selection subset), and against the real held-out clips `ganaudio evaluate`
reports on. The temperature is picked as best.pt is, by the lowest classifier Frechet distance
to the training clips (mean over seeds); the held-out columns are what is reported, on clips the
choice never saw. Ship the pick with `ganaudio export MODEL --out FILE.pt --temperature T`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ganaudio.config import with_data_root  # noqa: E402
from ganaudio.evaluate import Reference, Scores  # noqa: E402
from ganaudio.synth import Synthesizer, check_temperature  # noqa: E402


def score_at(synth: Synthesizer, reference: Reference, temperature: float, n: int, seed: int) -> tuple[Scores, Scores]:
    """(against training clips, against held-out clips) for one set of n clips."""
    synth.temperature = check_temperature(temperature)
    labels = synth.label_indices(None, n)
    made = synth.generate(n, seed=seed, level=False)
    samples = made.samples if made.is_audio else made.features
    conditional = labels if synth.labels else None
    return reference.score(samples, conditional, against=reference.selection), reference.score(samples, conditional)


def mean_sd(values: list[float], pattern: str = "{:.3f}") -> str:
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{pattern.format(statistics.mean(values))} +- {pattern.format(spread)}"


def print_table(results: dict[float, list[tuple[Scores, Scores]]], real: Scores, picked: float) -> None:
    print("| temperature | classifier FD to training clips | accuracy | inception score, % of real | "
          "Frechet distance, x real | signal Frechet distance, x real | precision | recall | least label spread |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for temperature, pairs in results.items():
        selection = [s for s, _ in pairs]
        heldout = [h for _, h in pairs]
        name = f"**{temperature:g}** (picked)" if temperature == picked else f"{temperature:g}"
        cells = [mean_sd([s.frechet_distance for s in selection], "{:.2f}"),
                 mean_sd([h.accuracy for h in heldout]) if heldout[0].accuracy is not None else "-",
                 f"{statistics.mean(h.inception_score for h in heldout) / real.inception_score:.0%}",
                 f"{statistics.mean(h.frechet_distance for h in heldout) / real.frechet_distance:.2f}x",
                 f"{statistics.mean(h.signal_frechet_distance for h in heldout) / real.signal_frechet_distance:.2f}x",
                 mean_sd([h.precision for h in heldout]), mean_sd([h.recall for h in heldout]),
                 f"{min(min(h.label_spread.values()) for h in heldout):.2f}" if heldout[0].label_spread else "-"]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print(f"Real training vs held-out: precision {real.precision:.3f}, recall {real.recall:.3f}, "
          f"Frechet distance {real.frechet_distance:.2f}, signal Frechet distance {real.signal_frechet_distance:.2f}, "
          f"inception score {real.inception_score:.2f}")
    recalls = {t: [h.recall for _, h in pairs] for t, pairs in results.items()}
    print("Held-out recall per seed: " + "; ".join(
        f"{t:g}: " + " / ".join(f"{r:.3f}" for r in values) for t, values in recalls.items()))


def plot(results: dict[float, list[tuple[Scores, Scores]]], real: Scores, path: str) -> None:
    """Held-out precision, recall and classifier FD ratio against temperature, real's beside."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    temperatures = list(results)
    mean = lambda key: [statistics.mean(getattr(h, key) for _, h in results[t]) for t in temperatures]  # noqa: E731
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for key, colour in (("precision", "tab:blue"), ("recall", "tab:orange")):
        left.plot(temperatures, mean(key), "o-", color=colour, label=f"generated {key}")
        left.axhline(getattr(real, key), color=colour, linestyle="--", label=f"real {key}")
    left.set(xlabel="temperature (latent spread)", ylabel="against real held-out clips", title="fidelity and coverage")
    left.legend(fontsize=8)
    right.plot(temperatures, [v / real.frechet_distance for v in mean("frechet_distance")], "o-", label="classifier")
    right.plot(temperatures, [v / real.signal_frechet_distance for v in mean("signal_frechet_distance")], "o-",
               label="signal statistics")
    right.axhline(1.0, color="grey", linestyle="--", label="real vs real")
    right.set(xlabel="temperature (latent spread)", ylabel="Frechet distance, x real vs real", title="distance")
    right.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", help="a checkpoint, run folder or exported generator (default: bundled digits)")
    parser.add_argument("--data", help="the model's data, if not where its recipe says")
    parser.add_argument("--vocoder", help="decode with this vocoder (default: the model's own)")
    parser.add_argument("--temperatures", type=float, nargs="+", default=[0.8, 1.0, 1.2, 1.4, 1.6])
    parser.add_argument("--seeds", type=int, default=3, help="latent seeds 0 .. seeds-1 per temperature")
    parser.add_argument("--n", type=int, default=1000, help="clips per temperature and seed")
    parser.add_argument("--plot", help="write held-out precision, recall and distances against temperature here")
    args = parser.parse_args()

    synth = Synthesizer.from_checkpoint(args.checkpoint, vocoder=args.vocoder)
    recipe = with_data_root(synth.recipe, args.data) if args.data else synth.recipe
    reference = Reference.for_recipe(recipe)
    reference.require_labels(synth.labels, str(args.checkpoint or "the bundled digits model"))
    results = {t: [score_at(synth, reference, t, args.n, seed) for seed in range(args.seeds)]
               for t in args.temperatures}
    picked = min(results, key=lambda t: statistics.mean(s.frechet_distance for s, _ in results[t]))
    print_table(results, reference.real, picked)
    print(f"picked {picked:g}: the lowest classifier Frechet distance to the training clips (best.pt's rule)")
    if args.plot:
        plot(results, reference.real, args.plot)


if __name__ == "__main__":
    main()
