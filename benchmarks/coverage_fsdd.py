"""Which real speakers do a digits model's clips cover? Recall of `ganaudio evaluate` per FSDD
speaker, beside real training clips' recall of the same held-out clips.

    OMP_WAIT_POLICY=PASSIVE python benchmarks/coverage_fsdd.py --data ../shared/data/fsdd/recordings \\
        --seeds 0 1 2

Recall (Kynkaanniemi et al. 2019, on `ganaudio evaluate`'s signal statistics) is the share of
real held-out clips inside the generated clips' manifold. Split by the speaker of each held-out
clip ({digit}_{speaker}_{take}.wav), it says whether a low recall is a few voices the model
never makes, or every voice covered thinly. Each generated set is as large as the held-out
split (300), as `ganaudio evaluate`'s is by default; the real row is 300 training clips (the
real-vs-real column of `ganaudio evaluate`).
"""

from __future__ import annotations

import argparse
import statistics

import torch

from ganaudio.config import with_data_root
from ganaudio.data.fsdd import NAME_PATTERN, fsdd_files
from ganaudio.data.clips import DataSummary
from ganaudio.evaluate import Reference, inside_manifold
from ganaudio.synth import Synthesizer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="FSDD recordings/")
    parser.add_argument("--checkpoint", help="a digits checkpoint or exported generator (default: the bundled model)")
    parser.add_argument("--vocoder", help="as `ganaudio synth --vocoder` (default: the model's)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="latent seeds, one generated set each")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    synthesizer = Synthesizer.from_checkpoint(args.checkpoint, vocoder=args.vocoder)
    recipe = with_data_root(synthesizer.recipe, args.data)
    reference = Reference.for_recipe(recipe)
    files = fsdd_files(recipe.data, DataSummary(source="fsdd"))
    speakers = [NAME_PATTERN.match(f.path.name)["speaker"] for f in files if f.split == "test"]
    heldout = reference.heldout.statistics
    assert len(speakers) == len(heldout), "held-out clips and files out of step"
    names = sorted(set(speakers))
    rows = {"real training clips": [inside_manifold(heldout, reference.selection.statistics)]}
    for seed in args.seeds:
        made = synthesizer.generate(len(heldout), seed=seed, level=False)
        generated = reference.statistics(reference.level(made.samples))
        rows.setdefault("generated", []).append(inside_manifold(heldout, generated))
    print(f"decoder: {synthesizer.vocoder.description}; seeds {args.seeds}; held-out clips per speaker: "
          + ", ".join(f"{n} {speakers.count(n)}" for n in names))
    print("\n| clips | all | " + " | ".join(names) + " |")
    print("|---|---:|" + "---:|" * len(names))
    for row, covered in rows.items():
        cells = [statistics.mean(float(c.double().mean()) for c in covered)]
        for name in names:
            mine = torch.tensor([s == name for s in speakers])
            cells.append(statistics.mean(float(c[mine].double().mean()) for c in covered))
        print(f"| {row} | " + " | ".join(f"{v:.2f}" for v in cells) + " |")


if __name__ == "__main__":
    main()
