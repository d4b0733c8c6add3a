"""`ganaudio` subcommands: parse arguments, call the Python API, print what happened.

A UserError anywhere below becomes one line on stderr and exit code 2; nothing else is
caught, so a real bug keeps its traceback.
"""

from __future__ import annotations

import argparse
import errno
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ganaudio.errors import TrainingStopped, UserError
from ganaudio.files import require_parent_folder

# Where the machine, not ganaudio, refused a read or write: one line and exit code 2.
FILESYSTEM_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR,
                     errno.EISDIR, errno.ENAMETOOLONG}

VOCODER_HELP = ("a vocoder file or run folder (ganaudio train-vocoder), or griffin-lim (default: the vocoder "
                "stored with the generator, else griffin-lim)")
TEMPERATURE_HELP = ("spread of the latent noise: 1 is what the generator was trained on, lower trades variety "
                    "for fidelity, higher the reverse (default: the one the model file was exported with, else 1)")

if TYPE_CHECKING:  # the CLI imports torch only inside the subcommands that need it
    from ganaudio.config import Recipe
    from ganaudio.data import Dataset
    from ganaudio.train import Trainer


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except TrainingStopped as err:
        print(f"ganaudio: {'stopped' if err.exit_code > 128 else 'error'}: {err}", file=sys.stderr)
        return err.exit_code
    except UserError as err:
        print(f"ganaudio: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        if err.errno not in FILESYSTEM_ERRORS:
            raise
        print(f"ganaudio: error: {err.filename or 'a file'}: {err.strerror}", file=sys.stderr)
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

    train = commands.add_parser(
        "train", help="train a GAN from a recipe",
        description="Train a conditional WGAN on the recipe's data; the run folder gets checkpoints, "
                    "sample grids (and WAVs for audio), metrics.jsonl, a loss-curve PNG and the resolved recipe.")
    add_recipe_arguments(train)
    train.add_argument("--out", metavar="DIR", help="run folder (default: runs/<recipe>-<time>)")
    train.add_argument("--resume", action="store_true", help="continue the run in --out from its newest checkpoint")
    train.add_argument("--dry-run", action="store_true", help="print the resolved recipe and models, then stop")
    train.add_argument("--vocoder", metavar="PATH|griffin-lim",
                       help="decode previews and evaluations with this vocoder (default: Griffin-Lim)")
    train.set_defaults(run=run_train)

    train_vocoder = commands.add_parser(
        "train-vocoder", help="train a vocoder on a recipe's real clips, to decode its generators' samples",
        description="Teach a small network to restore the spectrum the recipe's mel features lose (Griffin-Lim "
                    "finds its phase); the run folder gets checkpoints, best.pt (lowest round-trip STFT distance "
                    "on held-out clips), real and decoded WAVs and spectrograms, metrics.jsonl and curves. Use it "
                    "with synth/evaluate/augment --vocoder RUN, or put it in a generator file with export --vocoder.")
    add_recipe_arguments(train_vocoder)
    train_vocoder.add_argument("--out", metavar="DIR", help="run folder (default: runs/<recipe>-vocoder-<time>)")
    train_vocoder.add_argument("--resume", action="store_true", help="continue the run in --out from its newest checkpoint")
    train_vocoder.add_argument("--dry-run", action="store_true", help="print the resolved recipe and network, then stop")
    train_vocoder.set_defaults(run=run_train_vocoder)

    synth = commands.add_parser(
        "synth", help="write generated audio (or images) from a checkpoint",
        description="Generate clips with a trained model (default: the bundled spoken-digit model) and write "
                    "them as WAVs (PNGs for an image model).")
    synth.add_argument("--out", required=True, metavar="FILE.wav|DIR",
                       help="a file for one clip; a folder (made if missing) or a file name to number for several")
    synth.add_argument("--n", type=int, default=1, help="how many clips (default: 1)")
    synth.add_argument("--label", help="the class to generate, by name (e.g. 7, or a); default: cycle through all")
    synth.add_argument("--seed", type=int, help="makes the output repeatable (default: random, printed)")
    synth.add_argument("--checkpoint", metavar="PATH",
                       help="training checkpoint, run folder (its best.pt, else its newest checkpoint) or "
                            "exported generator (default: the bundled digits model)")
    synth.add_argument("--vocoder", metavar="PATH|griffin-lim", help=VOCODER_HELP)
    synth.add_argument("--griffin-lim-iters", type=int, metavar="K",
                       help="Griffin-Lim iterations of the vocoder (default: the vocoder's or the recipe's)")
    synth.add_argument("--temperature", type=float, metavar="T", help=TEMPERATURE_HELP)
    synth.add_argument("--plot", metavar="FILE.png", help="also write a grid of the generated spectrograms")
    synth.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: cpu)")
    synth.set_defaults(run=run_synth)

    export = commands.add_parser(
        "export", help="write a generator (with its vocoder) or a vocoder as a small file for synthesis",
        description="Keep what synthesis needs (EMA generator in float16, recipe, feature statistics, labels) "
                    "and drop the critic and optimizers: a 1.4M-parameter generator becomes about 3 MB. "
                    "--vocoder puts a trained vocoder in the same file, used by default when it is loaded. "
                    "Given a vocoder's checkpoint or run folder, writes the vocoder alone.")
    export.add_argument("checkpoint", help="training checkpoint, run folder (its best.pt, else its newest "
                                           "checkpoint), exported generator, or a vocoder's checkpoint or run folder")
    export.add_argument("--out", required=True, metavar="FILE.pt")
    export.add_argument("--vocoder", metavar="PATH", help="a vocoder file or run folder to store with the generator")
    export.add_argument("--griffin-lim-iters", type=int, metavar="K",
                        help="the Griffin-Lim iterations synthesis uses by default (default: the run's recipe's)")
    export.add_argument("--temperature", type=float, metavar="T",
                        help="the latent spread synthesis uses by default (see synth --temperature; default: 1, "
                             "or the exported generator's own)")
    export.set_defaults(run=run_export)

    evaluate = commands.add_parser(
        "evaluate", help="score a checkpoint against held-out real data",
        description="Score generated samples with a reference classifier trained (once, then cached) on the "
                    "real training split: label accuracy, inception score, Frechet distance, nearest-neighbour "
                    "ratio and silent/clipped clips, each beside the same figure for real held-out data.")
    evaluate.add_argument("--checkpoint", metavar="PATH",
                          help="training checkpoint, run folder (its best.pt, else its newest checkpoint) or "
                               "exported generator (default: the bundled digits model)")
    evaluate.add_argument("--n", type=int, help="samples to generate (default: as many as the held-out split has)")
    evaluate.add_argument("--data", metavar="PATH", help="the data the model was trained on, if not where its recipe says")
    evaluate.add_argument("--vocoder", metavar="PATH|griffin-lim", help=VOCODER_HELP)
    evaluate.add_argument("--griffin-lim-iters", type=int, metavar="K",
                          help="Griffin-Lim iterations of the vocoder (default: the vocoder's or the recipe's)")
    evaluate.add_argument("--temperature", type=float, metavar="T", help=TEMPERATURE_HELP)
    evaluate.add_argument("--json", metavar="FILE.json", help="also write the figures as JSON")
    evaluate.add_argument("--seed", type=int, default=0, help="latent seed of the generated samples (default: 0)")
    evaluate.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: cpu)")
    evaluate.set_defaults(run=run_evaluate)

    augment = commands.add_parser(
        "augment", help="write a labelled folder of synthetic clips for a classifier",
        description="Generate --per-class clips of each label into OUT/<label>/ with a manifest.csv "
                    "(path, label, seed); the folder source (and any folder-of-classes loader) reads it back. "
                    "By default as many as make a quarter of real + synthetic: the share measured to help "
                    "or stay level (README, 'When GAN clips help').")
    augment.add_argument("--checkpoint", metavar="PATH",
                         help="training checkpoint, run folder or exported generator (default: the bundled digits model)")
    augment.add_argument("--per-class", type=int, metavar="N",
                         help="clips per label (default: a third as many as the real training clips per label, "
                              "so that synthetic clips make a quarter of the mix; reads the real data)")
    augment.add_argument("--out", required=True, metavar="DIR", help="a new (or empty) folder")
    augment.add_argument("--labels", metavar="A,B,...", help="only these labels (default: all)")
    augment.add_argument("--seed", type=int, default=0, help="makes the clips repeatable (default: 0)")
    augment.add_argument("--vocoder", metavar="PATH|griffin-lim", help=VOCODER_HELP)
    augment.add_argument("--temperature", type=float, metavar="T", help=TEMPERATURE_HELP)
    augment.add_argument("--filter", action="store_true",
                         help="drop clips that a classifier trained on the real data does not assign to their label")
    augment.add_argument("--data", metavar="PATH",
                         help="the real data (for --filter and the default --per-class), if not where the model's recipe says")
    augment.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: cpu)")
    augment.set_defaults(run=run_augment)
    return parser


def add_recipe_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipe", help="recipe YAML file, or a bundled recipe name (voice, digits, mnist, sounds, drums)")
    parser.add_argument("--data", metavar="PATH", help="data folder; short for --set data.root=PATH")
    parser.add_argument("--set", dest="overrides", metavar="SECTION.KEY=VALUE", action="append", default=[],
                        help="override one recipe value, e.g. --set features.n_mels=64 (repeatable)")


def recipe_from_arguments(args: argparse.Namespace) -> "Recipe":
    """The recipe of `features` and `train`: file, --set, --data, and a clip length the data decides."""
    from ganaudio.config import load_recipe
    from ganaudio.data import resolve_clip_seconds

    recipe = load_recipe(args.recipe, args.overrides, data_root=args.data)
    resolved = resolve_clip_seconds(recipe)
    if resolved is not recipe:
        f = resolved.features
        print(f"features.clip_seconds: auto -> {f.clip_seconds!r} s ({f.frames} frames; holds the "
              f"files up to their 90th-percentile duration whole)")
    return resolved


def run_features(args: argparse.Namespace) -> int:
    from ganaudio.data import load_dataset

    recipe = recipe_from_arguments(args)
    started = time.perf_counter()
    dataset = load_dataset(recipe, split=args.split)
    elapsed = time.perf_counter() - started
    print(f"recipe: {recipe.name}")
    for line in dataset.summary.lines():
        print(line)
    channels, height, width = dataset.sample_shape
    if not recipe.data.is_images:
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


def run_train(args: argparse.Namespace) -> int:
    from ganaudio.data import load_dataset, mel_features
    from ganaudio.runtime import join_process_group, leave_process_group, local_main_first
    from ganaudio.synth import make_preview
    from ganaudio.train import Trainer
    from ganaudio.vocoder import GRIFFIN_LIM, choose_vocoder, read_vocoder

    recipe = recipe_from_arguments(args)
    run_dir = run_folder_argument(args, f"runs/{recipe.name}-{time.strftime('%Y%m%d-%H%M%S')}")
    if args.vocoder and recipe.data.is_images:
        raise UserError(f"--vocoder: {args.recipe} is an image recipe; it has no audio to decode")
    if args.vocoder and args.vocoder != GRIFFIN_LIM:
        read_vocoder(args.vocoder)  # a wrong path fails now, not after the data has loaded
    shard, _ = join_process_group(recipe.train.device)  # under torchrun; a no-op in one process
    finished = False
    try:
        with local_main_first():
            dataset = load_dataset(recipe)
        decoder = None
        if not recipe.data.is_images:  # one decoder for the previews and the evaluations
            decoder = choose_vocoder(mel_features(recipe, dataset), args.vocoder, None, "--vocoder")
        preview = make_preview(recipe, dataset.feature_state, dataset.label_names, decoder)
        evaluate, evaluation_off = None, None
        if recipe.train.eval_every and shard.is_main and not args.dry_run:
            from ganaudio.evaluate import TrainingEvaluator

            try:
                evaluate = TrainingEvaluator(recipe, dataset.feature_state, decoder)
            except UserError as err:  # unlabelled data, or none held out: train without it
                evaluation_off = f"evaluation during training is off: {err}"
        trainer = Trainer(recipe, dataset, run_dir, preview=preview, evaluate=evaluate)
        code = train_with(trainer, args, dataset, evaluation_off)
        finished = True
        return code
    except TrainingStopped:
        finished = True  # every process stops at the same agreed step, so they can leave together
        raise
    finally:
        leave_process_group(finished)


def run_folder_argument(args: argparse.Namespace, default: str) -> Path:
    """--out as a run folder: new, or holding a run to resume with --resume."""
    from ganaudio.checkpoint import list_checkpoints

    run_dir = Path(args.out or default)
    if run_dir.exists() and not run_dir.is_dir():
        raise UserError(f"--out: {run_dir} is a file, not a folder")
    if args.resume and not list_checkpoints(run_dir):
        raise UserError(f"{run_dir}: no checkpoint to resume from")
    if not args.resume and list_checkpoints(run_dir):
        raise UserError(f"{run_dir}: already holds a run; pass --resume to continue it or another --out")
    return run_dir


def train_with(trainer: "Trainer", args: argparse.Namespace, dataset: "Dataset", evaluation_off: str | None) -> int:
    """The rest of `ganaudio train`; under torchrun every process trains and the main one writes."""
    from ganaudio.models import count_parameters

    recipe, run, main = trainer.recipe, trainer.run, trainer.shard.is_main
    say = print if main else (lambda *_: None)
    say(recipe.to_yaml().rstrip())
    say(f"data: {len(dataset)} samples of {dataset.sample_shape}, labels: {dataset.label_names or 'none'}")
    say(f"generator: {count_parameters(trainer.state.generator):,} parameters; critic: "
        f"{count_parameters(trainer.state.critic):,}; device: {trainer.device}, threads: {torch_threads()}, "
        f"bf16: {'on' if trainer.autocast else 'off'}, processes: {trainer.shard.world_size}")
    if args.dry_run:
        return 0
    if evaluation_off:
        say(evaluation_off)
    if args.resume:
        step = trainer.resume()
        say(f"resuming {run} from step {step}")
    if main:
        run.write_recipe(recipe.to_yaml())
    checkpoint = trainer.fit()
    if not main:
        return 0
    run.plot_losses()
    print(f"wrote {checkpoint} (step {trainer.step}) and samples in {run}")
    if run.best_file.is_file():
        print(f"best by Frechet distance: {run.best_file} (step {trainer.best_step}); "
              f"curves in {run.path / 'evaluation.png'}")
    return 0


def run_train_vocoder(args: argparse.Namespace) -> int:
    from ganaudio.data import load_dataset, read_audio_clips
    from ganaudio.models import count_parameters
    from ganaudio.train_vocoder import VocoderTrainer

    recipe = recipe_from_arguments(args)
    run_dir = run_folder_argument(args, f"runs/{recipe.name}-vocoder-{time.strftime('%Y%m%d-%H%M%S')}")
    clips = read_audio_clips(recipe)  # an image recipe stops here
    dataset = load_dataset(recipe)  # the feature statistics, fitted on the training split
    trainer = VocoderTrainer(recipe, clips, dataset.feature_state, run_dir)
    print(recipe.to_yaml().rstrip())
    held_out = sum(split != "train" for split in clips.splits)
    print(f"data: {len(clips.splits) - held_out} training clips, {held_out} held out, "
          f"{recipe.features.clip_samples / recipe.features.sample_rate:g} s at {recipe.features.sample_rate} Hz")
    print(f"vocoder: {count_parameters(trainer.state.net):,} parameters; device: {trainer.device}, "
          f"threads: {torch_threads()}")
    if args.dry_run:
        return 0
    if trainer.evaluation_off:
        print(f"evaluation during training is off: {trainer.evaluation_off}")
    if args.resume:
        print(f"resuming {trainer.run} from step {trainer.resume()}")
    trainer.run.write_recipe(recipe.to_yaml())
    checkpoint = trainer.fit()
    print(f"wrote {checkpoint} (step {trainer.step}) and previews in {trainer.run}")
    if trainer.run.best_file.is_file():
        print(f"best by round-trip STFT distance: {trainer.run.best_file}; curves in "
              f"{trainer.run.path / 'evaluation.png'}")
    print(f"use it: ganaudio synth --checkpoint MODEL --vocoder {trainer.run} --out gen.wav")
    return 0


def run_synth(args: argparse.Namespace) -> int:
    from ganaudio.checkpoint import resolve_checkpoint
    from ganaudio.synth import Synthesizer, plot_generated

    if args.plot:
        check_out_file(Path(args.plot), "--plot", ".png")
    checkpoint = resolve_checkpoint(args.checkpoint) if args.checkpoint else None
    synthesizer = Synthesizer.from_checkpoint(checkpoint, device=args.device, griffin_lim_iters=args.griffin_lim_iters,
                                              vocoder=args.vocoder, temperature=args.temperature)
    generated = synthesizer.generate(args.n, labels=args.label, seed=args.seed)
    paths = synthesizer.save(generated, args.out)
    if generated.is_audio:
        what = f"WAV(s) of {generated.samples.shape[1] / generated.sample_rate:.2f} s at {generated.sample_rate} Hz"
    else:
        what = "PNG(s) of {}x{} pixels".format(*generated.samples.shape[1:])
    decoder = f", decoded by {synthesizer.vocoder.description}" if generated.is_audio else ""
    print(f"wrote {len(paths)} {what} from {checkpoint or 'the bundled digits model'}{decoder} (seed {generated.seed}, "
          f"temperature {synthesizer.temperature:g}):")
    for path, label in zip(paths, generated.labels or [None] * len(paths)):
        print(f"  {path}" + (f"  label {label}" if label is not None else ""))
    if args.plot:
        print(f"wrote {plot_generated(generated, synthesizer.recipe, args.plot)}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from ganaudio.checkpoint import export_generator, resolve_checkpoint
    from ganaudio.vocoder import export_vocoder, is_vocoder_file, read_vocoder

    out = Path(args.out)
    if out.suffix != ".pt":
        raise UserError(f"{out}: the exported file is a .pt file")
    source = resolve_checkpoint(args.checkpoint)
    if is_vocoder_file(source):
        if args.vocoder:
            raise UserError(f"{source}: is a vocoder; --vocoder goes with a generator's checkpoint")
        if args.temperature is not None:
            raise UserError(f"{source}: is a vocoder; --temperature goes with a generator's checkpoint")
        export_vocoder(source, out, griffin_lim_iters=args.griffin_lim_iters)
        print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB), the vocoder of {source}")
        return 0
    vocoder = read_vocoder(args.vocoder) if args.vocoder else None
    export_generator(source, out, griffin_lim_iters=args.griffin_lim_iters, vocoder=vocoder, temperature=args.temperature)
    with_vocoder = f" with the vocoder of {resolve_checkpoint(args.vocoder)}" if vocoder else ""
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB) from {source}{with_vocoder}")
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from ganaudio.checkpoint import resolve_checkpoint
    from ganaudio.files import write_text_atomically
    from ganaudio.evaluate import evaluate_checkpoint

    if args.json:
        json_path = Path(args.json)
        check_out_file(json_path, "--json", ".json")
    checkpoint = resolve_checkpoint(args.checkpoint) if args.checkpoint else None
    evaluation = evaluate_checkpoint(checkpoint, n=args.n, data_root=args.data, device=args.device, seed=args.seed,
                                     vocoder=args.vocoder, griffin_lim_iters=args.griffin_lim_iters,
                                     temperature=args.temperature)
    print(f"{checkpoint or 'the bundled digits model'}{f', decoded by {evaluation.decoder}' if evaluation.decoder else ''}:")
    print(evaluation.table())
    if args.json:
        payload = {"checkpoint": str(checkpoint or "bundled"), **evaluation.to_dict()}
        try:
            write_text_atomically(json_path, json.dumps(payload, indent=2) + "\n")
        except OSError as err:
            raise UserError(f"{json_path}: cannot write ({err.strerror or err})") from None
        print(f"wrote {json_path}")
    return 0


def run_augment(args: argparse.Namespace) -> int:
    from ganaudio.augment import (SyntheticClips, per_class_for_share, quality_filter, require_labelled_audio,
                                  require_new_folder, write_labelled_folder)
    from ganaudio.checkpoint import resolve_checkpoint
    from ganaudio.config import with_data_root
    from ganaudio.synth import Synthesizer

    out = Path(args.out)
    require_new_folder(out)  # before any work
    checkpoint = resolve_checkpoint(args.checkpoint) if args.checkpoint else None
    labels = [name.strip() for name in args.labels.split(",")] if args.labels else None
    synth = Synthesizer.from_checkpoint(checkpoint, device=args.device, vocoder=args.vocoder,
                                        temperature=args.temperature)
    require_labelled_audio(synth)
    recipe = with_data_root(synth.recipe, args.data) if args.data else synth.recipe
    per_class = args.per_class
    if per_class is None:
        names = labels or synth.labels
        synth.label_indices(names, len(names))  # an unknown label is named before the data is read
        per_class = per_class_for_share(recipe, names)
    synthetic = SyntheticClips(per_class=per_class, seed=args.seed, labels=labels, synthesizer=synth)
    keep = None
    if args.filter:
        keep = quality_filter(synthetic, recipe)
    paths = write_labelled_folder(synthetic, out, keep)
    sized = "" if args.per_class is not None else (f", {per_class} per label: a quarter of real + synthetic"
                                                   f"{' before filtering' if args.filter else ''}")
    print(f"wrote {len(paths)} clips at {synthetic.sample_rate} Hz to {out}/<label>/ and {out / 'manifest.csv'} "
          f"from {checkpoint or 'the bundled digits model'} (seed {args.seed}, temperature {synthetic.synth.temperature:g}"
          f"{sized})")
    if keep is not None:
        dropped = {name: int((~keep[synthetic.labels == k]).sum()) for k, name in enumerate(synthetic.label_names)
                   if bool((synthetic.labels == k).any())}
        print(f"quality filter dropped {int((~keep).sum())} of {len(keep)}: "
              + ", ".join(f"{name} {count}" for name, count in dropped.items()))
    return 0


def check_out_file(path: Path, option: str, suffix: str) -> None:
    """Refuse an output file path before any work is done, so nothing is left half-made."""
    if path.suffix.lower() != suffix:
        raise UserError(f"{path}: {option} writes a {suffix} file")
    require_parent_folder(path)


def torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def plot_examples(recipe, dataset, path: str, count: int = 16):
    """A grid of the first samples of each label in turn, so every class is shown."""
    import torch

    from ganaudio.plots import image_grid, spectrogram_grid

    order = torch.argsort(dataset.labels, stable=True)
    per_label = [order[dataset.labels[order] == k] for k in range(max(1, dataset.num_classes))]
    picks = [int(idx[i]) for i in range(count) for idx in per_label if i < len(idx)][:count]
    titles = [dataset.label_names[dataset.labels[i]] if dataset.label_names else f"#{i}" for i in picks]
    samples = dataset.samples[picks]
    if recipe.data.is_images:
        return image_grid(samples, path, titles=titles)
    return spectrogram_grid(samples, path, recipe.features, titles=titles)


if __name__ == "__main__":
    sys.exit(main())
