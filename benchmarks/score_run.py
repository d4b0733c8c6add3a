"""Score every checkpoint of a training run against real data, with the real-data reference
beside each figure.

    python benchmarks/score_run.py RUN_DIR [--data PATH] [--per-label 50]

A small CNN (benchmarks/reference.py) is trained on the run's real training split; each
checkpoint's EMA and live generators then make `--per-label` samples per label, which are scored by
label accuracy (does the classifier hear the intended digit?) and by the Frechet distance
between classifier embeddings of generated and real held-out samples. The same figures for
real held-out data (and real train vs held-out for the distance) are printed first.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference import frechet_distance, predict_and_embed, train_reference  # noqa: E402

from ganaudio.checkpoint import list_checkpoints, load_checkpoint  # noqa: E402
from ganaudio.config import load_recipe  # noqa: E402
from ganaudio.data import load_dataset  # noqa: E402
from ganaudio.models import Generator  # noqa: E402


def generated_samples(state: dict, recipe, per_label: int, weights: str = "generator_ema",
                      seed: int = 123) -> tuple[torch.Tensor, torch.Tensor]:
    generator = Generator(recipe.model, tuple(state["sample_shape"]), state["num_classes"])
    generator.load_state_dict(state[weights])
    generator.eval()
    classes = max(state["num_classes"], 1)
    labels = torch.arange(classes).repeat_interleave(per_label)
    z = torch.randn(len(labels), recipe.model.latent_dim, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        samples = torch.cat([generator(zc, lc if state["num_classes"] else None)
                             for zc, lc in zip(z.split(256), labels.split(256))])
    return samples, labels


def seconds_at_steps(run_dir: Path) -> dict[int, float]:
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        return {}
    return {row["step"]: row["seconds"] for row in map(json.loads, path.read_text().splitlines()) if row}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--data", help="data root, if not the one in the run's recipe")
    parser.add_argument("--per-label", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--weights", choices=("generator_ema", "generator"), nargs="+",
                        default=["generator_ema", "generator"], help="which generators of each checkpoint to score")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    recipe = load_recipe(args.run_dir / "recipe.yaml", data_root=args.data)
    train, test = load_dataset(recipe, "train"), load_dataset(recipe, "test")
    classifier = train_reference(train.samples, train.labels, train.num_classes)
    test_pred, test_embed = predict_and_embed(classifier, test.samples)
    _, train_embed = predict_and_embed(classifier, train.samples[torch.randperm(len(train))[: len(test)]])
    print(f"run {args.run_dir}; {len(train)} train / {len(test)} held-out real samples")
    print(f"real held-out: label accuracy {float((test_pred == test.labels).float().mean()):.3f}; "
          f"Frechet distance real train vs held-out {frechet_distance(train_embed, test_embed):.2f}")
    seconds = seconds_at_steps(args.run_dir)
    print("| step | minutes | " + " | ".join(f"{w}: label accuracy | {w}: Frechet distance" for w in args.weights) + " |")
    print("|---:|---:|" + "---:|---:|" * len(args.weights))
    for path in list_checkpoints(args.run_dir):
        state = load_checkpoint(path)
        cells = []
        for weights in args.weights:
            samples, labels = generated_samples(state, recipe, args.per_label, weights)
            predicted, embeddings = predict_and_embed(classifier, samples)
            cells += [f"{float((predicted == labels).float().mean()):.3f}",
                      f"{frechet_distance(embeddings, test_embed):.2f}"]
        minutes = seconds.get(state["step"], float("nan")) / 60
        print(f"| {state['step']} | {minutes:.1f} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
