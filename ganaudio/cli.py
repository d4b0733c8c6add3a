"""`ganaudio` subcommands: parse arguments, call the Python API, print what happened.

A UserError anywhere below becomes one line on stderr and exit code 2; nothing else is
caught, so a real bug keeps its traceback.
"""

from __future__ import annotations

import argparse
import sys
import time

from ganaudio.errors import UserError

# Subcommands listed in --help before they exist, so users see where the tool is going;
# running one says so plainly instead of pretending to work.
NOT_BUILT_YET = {
    "train": "train a GAN from a recipe",
    "synth": "write generated audio or images from a checkpoint",
    "evaluate": "score a checkpoint against held-out real data",
    "augment": "write a labelled folder of synthetic clips for a classifier",
}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except UserError as err:
        print(f"ganaudio: error: {err}", file=sys.stderr)
        return 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ganaudio", description="Train GANs on short sound clips (and images) and generate new ones.")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)

    features = commands.add_parser(
        "features", help="build the feature cache of a recipe and print its dataset summary",
        description="Read the recipe's data, compute (or load cached) features and print what was found.")
    add_recipe_arguments(features)
    features.add_argument("--split", choices=("train", "test"), default="train",
                          help="which split's shape and count to report (default: train)")
    features.add_argument("--plot", metavar="FILE.png", help="write a grid of example spectrograms or images")
    features.set_defaults(run=run_features)

    for name, summary in NOT_BUILT_YET.items():
        command = commands.add_parser(name, help=f"{summary} (not built yet)", add_help=False)
        command.add_argument("rest", nargs=argparse.REMAINDER)
        command.set_defaults(run=lambda args, name=name: _not_built(name))
    return parser


def add_recipe_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipe", help="recipe YAML file, or a bundled recipe name (voice, digits, mnist)")
    parser.add_argument("--data", metavar="PATH", help="data folder; short for --set data.root=PATH")
    parser.add_argument("--set", dest="overrides", metavar="SECTION.KEY=VALUE", action="append", default=[],
                        help="override one recipe value, e.g. --set features.n_mels=64 (repeatable)")


def run_features(args: argparse.Namespace) -> int:
    from ganaudio.config import load_recipe
    from ganaudio.data import load_dataset

    recipe = load_recipe(args.recipe, args.overrides, data_root=args.data)
    started = time.perf_counter()
    dataset = load_dataset(recipe, split=args.split)
    elapsed = time.perf_counter() - started
    print(f"recipe: {recipe.name}")
    for line in dataset.summary.lines():
        print(line)
    channels, height, width = dataset.sample_shape
    if recipe.features.kind == "mel":
        f = recipe.features
        shape = (f"{height} mel bins x {width} frames ({f.clip_seconds:g} s at {f.sample_rate} Hz, "
                 f"n_fft {f.n_fft}, hop {f.hop_length})")
    else:
        shape = f"{height} x {width} pixels"
    print(f"features: {shape}; {args.split} split: {len(dataset)} samples")
    print(f"{'loaded from cache' if dataset.from_cache else 'computed and cached'} in {elapsed:.2f} s")
    if args.plot:
        path = plot_examples(recipe, dataset, args.plot)
        print(f"wrote {path}")
    return 0


def plot_examples(recipe, dataset, path: str, count: int = 16):
    """A grid of the first samples of each label in turn, so every class is shown."""
    import torch

    from ganaudio.plots import image_grid, spectrogram_grid

    order = torch.argsort(dataset.labels, stable=True)
    per_label = [order[dataset.labels[order] == k] for k in range(max(1, dataset.num_classes))]
    picks = [int(idx[i]) for i in range(count) for idx in per_label if i < len(idx)][:count]
    titles = [dataset.label_names[dataset.labels[i]] if dataset.label_names else f"#{i}" for i in picks]
    samples = dataset.samples[picks]
    if recipe.features.kind == "image":
        return image_grid(samples, path, titles=titles)
    return spectrogram_grid(samples, path, titles=titles, sample_rate=recipe.features.sample_rate,
                            hop_length=recipe.features.hop_length)


def _not_built(name: str) -> int:
    raise UserError(f"'ganaudio {name}' is not built yet in this version")


if __name__ == "__main__":
    sys.exit(main())
