"""Checkpoints: one file holding everything a run needs to resume or to sample.

A checkpoint is a dict of tensors and plain values (no pickled code), loaded with
`weights_only=True`, written to a temporary file and renamed into place so a kill never
leaves a half-written one. Older checkpoints beyond `keep` are deleted only after the new
one is safely in place.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any

import torch

from ganaudio.config import IMAGE_SOURCES
from ganaudio.errors import UserError
from ganaudio.files import atomic_write, require_parent_folder

FORMAT_VERSION = 1
KIND = "ganaudio-gan"  # a training checkpoint: both generators, critic, optimizers, RNG
GENERATOR_KIND = "ganaudio-generator"  # an exported generator: what synthesis needs, nothing more
VOCODER_KIND = "ganaudio-vocoder"  # a vocoder training checkpoint (train-vocoder): network, optimizer, RNG
VOCODER_EXPORT_KIND = "ganaudio-vocoder-export"  # an exported vocoder: weights, recipe, feature statistics
KINDS = (KIND, GENERATOR_KIND, VOCODER_KIND, VOCODER_EXPORT_KIND)
# What each kind is, for the error that says a file is not what the command needs.
KIND_NAMES = {KIND: "a GAN training checkpoint", GENERATOR_KIND: "an exported generator",
              VOCODER_KIND: "a vocoder training checkpoint", VOCODER_EXPORT_KIND: "an exported vocoder"}
# What a generator needs to sample, besides its weights: copied from the training checkpoint.
GENERATOR_KEYS = ("recipe", "recipe_name", "feature_state", "label_names", "sample_shape", "num_classes", "step")
NAME = re.compile(r"^checkpoint-(\d{7})\.pt$")
BEST = "best.pt"  # the checkpoint with the best evaluation (GAN: Frechet distance; vocoder: STFT distance)


def checkpoint_path(run_dir: Path, step: int) -> Path:
    return run_dir / f"checkpoint-{step:07d}.pt"


def list_checkpoints(run_dir: Path) -> list[Path]:
    """Checkpoints of a run folder, oldest first."""
    if not run_dir.is_dir():
        return []
    return sorted(p for p in run_dir.iterdir() if NAME.match(p.name))


def resolve_checkpoint(path: Path | str) -> Path:
    """A checkpoint file as given; for a run folder its best.pt (best evaluation) when it
    has one, else its newest checkpoint. Every API that loads a model takes
    either, as the CLI does."""
    path = Path(path)
    if not path.is_dir():
        return path
    if (path / BEST).is_file():
        return path / BEST
    found = list_checkpoints(path)
    if not found:
        raise UserError(f"{path}: no checkpoint in this folder")
    return found[-1]


def save_checkpoint(run_dir: Path, step: int, payload: dict[str, Any], keep: int) -> Path:
    """Write atomically, then prune to the newest `keep`. The payload's "kind" (a vocoder's)
    replaces the GAN's."""
    path = checkpoint_path(run_dir, step)
    save_atomically({"kind": KIND, **payload, "format_version": FORMAT_VERSION, "step": step}, path)
    for old in list_checkpoints(run_dir)[:-keep]:
        old.unlink(missing_ok=True)
    return path


def save_best_checkpoint(run_dir: Path, step: int, payload: dict[str, Any]) -> Path:
    """Replace best.pt atomically: a kill leaves the previous best whole."""
    path = run_dir / BEST
    save_atomically({"kind": KIND, **payload, "format_version": FORMAT_VERSION, "step": step}, path)
    return path


def load_checkpoint(path: Path | str, kinds: tuple[str, ...] = (KIND,)) -> dict[str, Any]:
    """Read a checkpoint file (never running code from it) or raise a UserError naming it.

    `kinds` are the checkpoint kinds the caller can use: training needs a full training
    checkpoint, synthesis also takes an exported generator."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: checkpoint not found")
    try:
        # weights_only: the unpickler builds tensors and plain containers only, so a file
        # crafted to run code when loaded is refused before any of it runs.
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        blocked = re.search(r"GLOBAL (\S+)", str(err))  # what the file asked the unpickler to call
        if blocked:
            raise UserError(f"{path}: refused: loading it would run {blocked.group(1)}, and ganaudio loads "
                            f"tensors and plain values only (do not open it with pickle either)") from None
        raise UserError(f"{path}: not a readable checkpoint (corrupt or not a torch file)") from None
    except Exception as err:  # torch raises many types for corrupt or foreign files
        raise UserError(f"{path}: not a readable checkpoint ({str(err).splitlines()[0][:120]})") from None
    if not isinstance(payload, dict) or payload.get("kind") not in KINDS:
        raise UserError(f"{path}: not a ganaudio checkpoint")
    version = payload.get("format_version")
    if isinstance(version, int) and version > FORMAT_VERSION:
        raise UserError(f"{path}: written by a newer ganaudio (checkpoint format {version}; this one reads "
                        f"format {FORMAT_VERSION}): upgrade ganaudio to use it")
    if version != FORMAT_VERSION:
        raise UserError(f"{path}: checkpoint format {version} is not "
                        f"supported (this ganaudio reads format {FORMAT_VERSION})")
    if payload["kind"] not in kinds:
        if payload["kind"] == GENERATOR_KIND and KIND in kinds:
            raise UserError(f"{path}: is an exported generator, not a training checkpoint "
                            f"(it can make samples but cannot be trained further)")
        raise UserError(f"{path}: is {KIND_NAMES[payload['kind']]}, not "
                        f"{' or '.join(KIND_NAMES[kind] for kind in kinds)}")
    return payload


def export_generator(checkpoint: Path | str, out: Path | str, half: bool = True,
                     griffin_lim_iters: int | None = None, vocoder: dict[str, Any] | None = None,
                     temperature: float | None = None) -> Path:
    """Write the EMA generator of a training checkpoint (or an exported generator again), with
    what sampling needs, as a small generator file; `half` stores the weights in float16 (half
    the size, inaudible here). `griffin_lim_iters` replaces the recipe's inversion setting, which
    only synthesis uses. `vocoder` (vocoder.read_vocoder) is stored in the file, in float16, and
    decodes its samples by default; so does `temperature` (synth.check_temperature) sample it,
    where given (an exported generator keeps its own otherwise). The file is for sharing, so
    its recipe keeps no path of this machine (data.root and data.cache_dir): evaluating it
    elsewhere takes `--data`."""
    source, out = resolve_checkpoint(checkpoint), Path(out)
    require_export_target(out, source)
    state = load_checkpoint(source, kinds=(KIND, GENERATOR_KIND))
    state["recipe"] = {**state["recipe"], "data": {**state["recipe"]["data"], "root": None, "cache_dir": None}}
    if griffin_lim_iters is not None:
        if griffin_lim_iters <= 0:
            raise UserError(f"griffin-lim-iters: must be positive, got {griffin_lim_iters}")
        features = state["recipe"]["features"]
        if state["recipe"]["data"].get("source") in IMAGE_SOURCES:
            raise UserError(f"{checkpoint}: an image model has no Griffin-Lim step (drop --griffin-lim-iters)")
        state["recipe"] = {**state["recipe"], "features": {**features, "griffin_lim_iters": griffin_lim_iters}}
    extra = {}
    if temperature is not None or "temperature" in state:
        from ganaudio.synth import check_temperature  # synth.py reads checkpoints: imported where needed

        extra["temperature"] = check_temperature(temperature if temperature is not None else state["temperature"])
    vocoder = vocoder if vocoder is not None else state.get("vocoder")  # an exported generator keeps its own
    if vocoder is not None:
        # vocoder.py reads checkpoints, so it is imported here, where a vocoder is stored
        from ganaudio.vocoder import require_fits_generator, vocoder_payload, with_vocoder_settings

        if griffin_lim_iters is not None:
            vocoder = with_vocoder_settings(vocoder, griffin_lim_iters=griffin_lim_iters)
        require_fits_generator(vocoder, state, str(source))
        extra["vocoder"] = vocoder_payload(vocoder, half=half)
    live = state["generator"] if state["kind"] == GENERATOR_KIND else state["generator_ema"]
    weights = {k: v.half() if half and v.is_floating_point() else v for k, v in live.items()}
    payload = {"kind": GENERATOR_KIND, "format_version": FORMAT_VERSION, "generator": weights,
               **{key: state[key] for key in GENERATOR_KEYS}, **extra}
    try:
        save_atomically(payload, out)
    except OSError as err:
        raise UserError(f"{out}: cannot write ({err.strerror})") from None
    return out


def same_feature_state(saved: dict[str, torch.Tensor], current: dict[str, torch.Tensor]) -> bool:
    """Feature statistics equal up to float rounding (another machine may sum in another order)."""
    return saved.keys() == current.keys() and all(
        torch.allclose(saved[key].float(), current[key].float(), rtol=1e-4, atol=1e-6) for key in saved)


def require_export_target(out: Path, source: Path) -> None:
    """An exported file never replaces a checkpoint: not the one it is made from, and not a
    run folder's checkpoint-<step>.pt or best.pt (training state a user would lose)."""
    if out.exists() and out.resolve() == source.resolve():
        raise UserError(f"{out}: is the file being exported; write the export to another --out")
    if NAME.match(out.name) or out.name == BEST:
        raise UserError(f"{out}: a run folder's checkpoint name; give the exported file another name")
    require_parent_folder(out)


def save_atomically(payload: dict[str, Any], path: Path) -> None:
    """torch.save to a temporary file renamed into place: a kill never leaves half a file, and
    a failed write (a full disk) leaves the previous file as it was."""
    try:
        with atomic_write(path) as temporary:
            torch.save(payload, temporary)
    except OSError as err:
        raise UserError(f"{path}: cannot write ({err.strerror or err}); nothing was replaced") from None
    except RuntimeError as err:  # torch's zip writer reports a failed write (ENOSPC) this way
        if "write" not in str(err):
            raise
        raise UserError(f"{path}: cannot write ({str(err).splitlines()[-1][:120]}); nothing was replaced") from None
