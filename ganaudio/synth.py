"""Checkpoint -> generated samples -> waveforms (through a vocoder) or images -> files.

The last stage of the data flow. `Synthesizer` loads the EMA generator of a training
checkpoint or of an exported generator file (the bundled digits model is one), makes samples
for the labels asked for, turns mel samples into waveforms through a `Vocoder` (vocoder.py:
a learned one, or Griffin-Lim) and writes WAVs or PNGs. The trainer's previews (`make_preview`)
use the same writers.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence, TYPE_CHECKING

import torch

from ganaudio.audio import normalize_level, write_wav
from ganaudio.checkpoint import GENERATOR_KIND, KIND, load_checkpoint, resolve_checkpoint
from ganaudio.config import Recipe, recipe_from_dict
from ganaudio.errors import UserError
from ganaudio.files import require_parent_folder, temporary_path
from ganaudio.features import MelFeatures, decode_images
from ganaudio.models import Generator
from ganaudio.plots import image_grid, spectrogram_grid
from ganaudio.runtime import resolve_device
from ganaudio.vocoder import GriffinLimVocoder, Vocoder, choose_vocoder, vocode

if TYPE_CHECKING:  # the trainer's callback type; synthesis never runs the trainer
    from ganaudio.train import Preview

BUNDLED_DIGITS = Path(__file__).resolve().parent / "pretrained" / "digits.pt"
# Its vocoder, a file of its own so that either can be replaced alone; it decodes the bundled
# model's samples unless another vocoder is named.
BUNDLED_DIGITS_VOCODER = BUNDLED_DIGITS.with_name("digits-vocoder.pt")
PEAK_DB = -1.0  # generated clips are levelled like the training clips (data.peak_db)
GENERATOR_BATCH = 256  # samples per generator call: keeps memory flat for any n


def check_temperature(temperature: float) -> float:
    """The spread of the latent noise z ~ N(0, temperature^2): 1 is what the generator was
    trained on; below 1 trades variety for fidelity, above 1 the reverse (Glow's temperature;
    BigGAN's truncation makes the same trade)."""
    try:
        value = float(temperature) if not isinstance(temperature, (bool, str)) else math.nan
    except (TypeError, ValueError, OverflowError):
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise UserError(f"temperature: must be a positive number, got {temperature}")
    return value


@dataclass
class Generated:
    """What `Synthesizer.generate` made.

    `samples` is waveforms (n, samples) float in [-1, 1] for audio models, at `sample_rate`,
    or uint8 images (n, height, width) for image models (`sample_rate` None). `features` is the
    generator's raw output (n, 1, height, width) in [-1, 1], for plotting; `labels` the class
    names (None for an unconditional model); `seed` the seed that repeats them.
    """

    samples: torch.Tensor
    sample_rate: int | None
    features: torch.Tensor
    labels: list[str] | None
    seed: int

    @property
    def is_audio(self) -> bool:
        return self.sample_rate is not None


class Synthesizer:
    """A trained generator ready to make audio (or images): `Synthesizer.from_checkpoint(path)`."""

    def __init__(self, generator: Generator, recipe: Recipe, label_names: Sequence[str],
                 vocoder: Vocoder | None, device: torch.device, temperature: float = 1.0):
        self.generator = generator.eval().requires_grad_(False)
        self.temperature = check_temperature(temperature)
        self.recipe = recipe
        self.labels = list(label_names) if generator.num_classes else []
        self.vocoder = vocoder
        self.device = device

    @classmethod
    def from_checkpoint(cls, path: Path | str | None = None, device: str = "cpu",
                        griffin_lim_iters: int | None = None, vocoder: Path | str | None = None,
                        temperature: float | None = None) -> "Synthesizer":
        """Load a training checkpoint, a run folder (its best.pt, else its newest checkpoint) or
        an exported generator (default: the bundled digits model) onto `device` ("cpu",
        "cuda", "cuda:1", ...). `vocoder` decodes audio: a vocoder file or run folder,
        "griffin-lim", or None for the one the generator file holds (the bundled model's: its
        vocoder file beside it), else Griffin-Lim. `temperature` (check_temperature) defaults
        to the one an exported file was given (`ganaudio export --temperature`), else 1."""
        if path is None:
            if not BUNDLED_DIGITS.is_file():
                raise UserError(f"{BUNDLED_DIGITS}: the bundled digits model is missing from this install; "
                                f"pass --checkpoint PATH")
            path = BUNDLED_DIGITS
        path = resolve_checkpoint(path)
        if vocoder is None and path.resolve() == BUNDLED_DIGITS and BUNDLED_DIGITS_VOCODER.is_file():
            vocoder = BUNDLED_DIGITS_VOCODER
        state = load_checkpoint(path, kinds=(KIND, GENERATOR_KIND))
        recipe = recipe_from_dict(state["recipe"], name=state.get("recipe_name", "recipe"))
        target = resolve_device(device)
        generator = Generator(recipe.model, tuple(state["sample_shape"]), state["num_classes"])
        weights = state["generator"] if state["kind"] == GENERATOR_KIND else state["generator_ema"]
        try:
            generator.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in weights.items()})
        except RuntimeError:
            raise UserError(f"{path}: its weights do not fit the model its recipe describes") from None
        generator.to(target, memory_format=torch.channels_last)
        decoder = None
        if not recipe.data.is_images:
            features = MelFeatures.from_state_dict(recipe.features, state["feature_state"])
            decoder = choose_vocoder(features, vocoder, state.get("vocoder"), str(path), griffin_lim_iters, target)
        elif griffin_lim_iters is not None:
            raise UserError(f"{path}: an image model has no Griffin-Lim step (drop --griffin-lim-iters)")
        elif vocoder is not None:
            raise UserError(f"{path}: an image model has no vocoder (drop --vocoder)")
        temperature = state.get("temperature", 1.0) if temperature is None else temperature
        return cls(generator, recipe, state["label_names"], decoder, target, temperature)

    @property
    def is_audio(self) -> bool:
        return self.vocoder is not None

    @property
    def sample_rate(self) -> int | None:
        return self.vocoder.sample_rate if self.vocoder is not None else None

    def label_indices(self, labels: Sequence[str | int] | str | int | None, n: int) -> torch.Tensor | None:
        """Class indices for `n` samples: None cycles through the classes; one label repeats;
        a list gives one label per sample. Labels are names ("7", "a"), as the data had them."""
        if not self.labels:
            if labels is not None:
                raise UserError("label: this model is unconditional; it has no labels to choose from")
            return None
        if labels is None:
            return torch.arange(n) % len(self.labels)
        if isinstance(labels, (str, int)):
            labels = [labels] * n
        if len(labels) != n:
            raise UserError(f"labels: got {len(labels)} labels for {n} samples")
        indices = []
        for label in labels:
            if str(label) not in self.labels:
                raise UserError(f"label {label!r}: this model has no such label (labels: {', '.join(self.labels)})")
            indices.append(self.labels.index(str(label)))
        return torch.tensor(indices)

    @torch.no_grad()
    def generate(self, n: int, labels: Sequence[str | int] | str | int | None = None,
                 seed: int | None = None, level: bool = True) -> Generated:
        """`n` samples of `labels` (see label_indices); the same seed gives the same samples.
        Clips are levelled to -1 dBFS peak unless `level` is False (evaluation measures
        silence and clipping on the vocoder's own output)."""
        if n <= 0:
            raise UserError(f"n: must be at least 1, got {n}")
        indices = self.label_indices(labels, n)
        seed = int(torch.randint(2**31 - 1, ())) if seed is None else seed
        z = self.temperature * torch.randn(n, self.generator.latent_dim, generator=torch.Generator().manual_seed(seed))
        chunks = []
        for start in range(0, n, GENERATOR_BATCH):
            cond = indices[start:start + GENERATOR_BATCH].to(self.device) if indices is not None else None
            chunks.append(self.generator(z[start:start + GENERATOR_BATCH].to(self.device), cond).float())
        features = torch.cat(chunks)
        names = [self.labels[int(k)] for k in indices] if indices is not None else None
        if self.vocoder is None:
            return Generated(decode_images(features).cpu(), None, features.cpu(), names, seed)
        waveforms = self.vocode(features)
        if level:
            waveforms = torch.stack([normalize_level(w, "peak", PEAK_DB, 0.0) for w in waveforms])
        return Generated(waveforms.cpu(), self.sample_rate, features.cpu(), names, seed)

    def vocode(self, features: torch.Tensor) -> torch.Tensor:
        """Mel samples (n, 1, n_mels, frames) -> waveforms (n, samples), not levelled."""
        if self.vocoder is None:
            raise UserError("vocode: an image model has no vocoder")
        return vocode(self.vocoder, features.to(self.device)).cpu()

    def save(self, generated: Generated, out: Path | str) -> list[Path]:
        """Write WAVs (audio) or PNGs (images): to `out` itself for one sample with a file
        name, else numbered files `<stem>-<i>[-<label>]` in the folder `out` or beside it."""
        return write_samples(generated, out_paths(Path(out), generated))


def out_paths(out: Path, generated: Generated) -> list[Path]:
    """Where each sample goes: `out` itself (one sample, a file name), numbered files beside a
    file name, or numbered files in the folder `out` (made if only it is missing)."""
    suffix = ".wav" if generated.is_audio else ".png"
    count = len(generated.samples)
    if out.is_dir() or not out.suffix:
        if out.exists() and not out.is_dir():
            raise UserError(f"{out}: is a file, not a folder")
        require_parent_folder(out)
        folder, stem = out, "sample"
    else:
        if out.suffix.lower() != suffix:
            raise UserError(f"{out}: {'an audio' if generated.is_audio else 'an image'} model writes {suffix} files")
        require_parent_folder(out)
        if count == 1:
            return [out]
        folder, stem = out.parent, out.stem
    names = generated.labels or [None] * count
    width = max(4, len(str(count - 1)))
    return [folder / f"{stem}-{i:0{width}d}{f'-{name}' if name else ''}{suffix}" for i, name in enumerate(names)]


def write_samples(generated: Generated, paths: list[Path]) -> list[Path]:
    """Write every file or none: each goes to a temporary name first, and all are renamed
    into place only when all were written."""
    folder = paths[0].parent
    created = not folder.exists()
    if created:
        folder.mkdir()
    temporaries = [temporary_path(path) for path in paths]
    try:
        for sample, temporary in zip(generated.samples, temporaries):
            if generated.is_audio:
                write_wav(temporary, sample, generated.sample_rate)
            else:
                _write_png(temporary, sample)
        for temporary, path in zip(temporaries, paths):
            os.replace(temporary, path)
    except OSError as err:
        for temporary in temporaries:
            temporary.unlink(missing_ok=True)
        if created and not any(folder.iterdir()):
            folder.rmdir()
        raise UserError(f"{paths[0].parent}: cannot write ({err.strerror or err})") from None
    return paths


def _write_png(path: Path, image: torch.Tensor) -> None:
    """One uint8 (height, width) image as a greyscale PNG at its own size (matplotlib, which
    ganaudio already needs for plots)."""
    import matplotlib.image

    matplotlib.image.imsave(path, image.numpy(), cmap="gray", vmin=0, vmax=255, format="png")


def plot_generated(generated: Generated, recipe: Recipe, path: Path | str) -> Path:
    """A grid of what was made: spectrograms with axes for audio, a digit grid for images."""
    count = min(len(generated.features), 32)
    titles = generated.labels[:count] if generated.labels else None
    if generated.is_audio:
        return spectrogram_grid(generated.features[:count], path, recipe.features, titles=titles)
    return image_grid(generated.features[:count], path, titles=titles)


def make_preview(recipe: Recipe, feature_state: dict[str, torch.Tensor], label_names: list[str],
                 vocoder: Vocoder | None = None) -> Preview:
    """The trainer's callback, writing `<stem>.png` (and `<stem>-<i>-<label>.wav` for audio,
    decoded by `vocoder`, by default Griffin-Lim)."""
    features = MelFeatures.from_state_dict(recipe.features, feature_state) if not recipe.data.is_images else None
    decoder = vocoder or (GriffinLimVocoder(features) if features is not None else None)

    def titles(labels: torch.Tensor) -> list[str] | None:
        return [label_names[int(k)] for k in labels] if label_names else None

    def preview(samples: torch.Tensor, labels: torch.Tensor, stem: Path) -> None:
        if features is None:
            image_grid(samples, stem.with_suffix(".png"), titles=titles(labels))
            return
        spectrogram_grid(samples, stem.with_suffix(".png"), recipe.features, titles=titles(labels))
        count = recipe.output.wav_samples
        if count:
            audio = decoder(samples[:count])
            names = titles(labels[:count]) or [""] * count
            for index, (clip, name) in enumerate(zip(audio, names)):
                suffix = f"-{name}" if name else ""
                write_wav(stem.parent / f"{stem.name}-{index}{suffix}.wav", clip, recipe.features.sample_rate)

    return preview
