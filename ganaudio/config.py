"""Typed recipes: the first thing every command reads.

A recipe is a YAML file with the sections `data`, `features`, `model`, `train`, `output` and
`vocoder`, each mirrored 1:1 by a dataclass below. Loading checks every key, type and value and names
the key's full path (`features.n_mels`) in the error. `--set section.key=value` overrides are
applied to the raw YAML before checking, so they get exactly the same checks. A recipe may
start from another with `base: other.yaml` and change only what differs.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional, Union

import yaml

from ganaudio.errors import UserError



def bundled_recipes_dir(package: Path) -> Path:
    """The recipes a bare name (`digits`) refers to. An installed wheel carries them inside the
    package (pyproject.toml maps the repository's recipes/ to ganaudio/recipes); a checkout
    and its editable install read the repository's recipes/ itself, the files users copy."""
    installed = package / "recipes"
    checkout = package.parent
    if installed.is_dir() or not (checkout / "pyproject.toml").is_file():
        return installed
    return checkout / "recipes"


RECIPES_DIR = bundled_recipes_dir(Path(__file__).resolve().parent)
IMAGE_SOURCES = ("mnist",)
MAX_FRAMES = 4096  # spectrogram frames per clip: beyond it a clip is a recording, not a sample


@dataclass(frozen=True)
class DataConfig:
    """Where the clips (or images) come from and how each file is cleaned up."""

    # folder: your own WAV/FLAC/OGG files; fsdd: Free Spoken Digit Dataset with its official
    # split; synthetic-voice: the built-in offline vowel corpus; mnist: handwritten digits
    # (images: pixels scaled to [-1, 1], and the features section does not apply).
    source: Literal["folder", "fsdd", "synthetic-voice", "mnist"] = "folder"
    # A local copy of the data. For fsdd and mnist, null downloads into the cache folder. For
    # synthetic-voice, setting it (`--data PATH`) switches the recipe to the folder source.
    root: Optional[str] = None
    # folder source: label from the parent folder's name, a regex on the file name, or none.
    labels: Literal["folder", "pattern", "none"] = "folder"
    # With labels: pattern. The named group `label` (or else group 1) is the label.
    label_pattern: Optional[str] = None
    # folder source: hold out about one file in N as the test split, which `ganaudio evaluate`
    # and evaluation during training compare with (chosen by a hash of each file's path, so
    # adding files never moves one between splits); 0 trains on every file.
    holdout_every: int = 10
    # Where a clip of features.clip_seconds is taken from each file. centre: around the sounding
    # part (speech). start: from the first sample. onset: from just before the first onset that
    # librosa detects (one-shots: drums, notes); a file with none is a bad file. start and onset
    # pad with silence after the sound and fade out where a longer sound is cut.
    align: Literal["centre", "start", "onset"] = "centre"
    # Per-clip level: peak keeps every clip's loudest sample at peak_db; rms evens out loudness.
    normalize: Literal["peak", "rms", "none"] = "peak"
    peak_db: float = -1.0  # dBFS of the peak after peak normalization
    rms_db: float = -20.0  # dBFS of the RMS after rms normalization (peaks are kept <= 0 dBFS)
    # A bad file (unreadable, truncated, empty, NaN, silent, unsupported format): skip it and
    # count it in the summary, or stop with an error naming it.
    on_bad_file: Literal["skip", "error"] = "skip"
    # Feature cache and downloads; null means $GANAUDIO_CACHE or ~/.cache/ganaudio.
    cache_dir: Optional[str] = None
    # synthetic-voice only: how many clips (balanced over the vowels) and the corpus seed.
    num_clips: int = 1000
    seed: int = 0

    @property
    def is_images(self) -> bool:
        """Image data (pixels), not audio (clips that become log-mels): decided by the source."""
        return self.source in IMAGE_SOURCES

    def validate(self, path: str) -> None:
        if self.labels == "pattern" and self.source == "folder":
            if not self.label_pattern:
                raise UserError(f"{path}.label_pattern: required when {path}.labels is 'pattern'")
            try:
                re.compile(self.label_pattern)
            except re.error as err:
                raise UserError(f"{path}.label_pattern: not a regular expression ({err})") from None
        _require(self.peak_db <= 0, f"{path}.peak_db", "must be <= 0 dBFS")
        _require(self.rms_db < 0, f"{path}.rms_db", "must be < 0 dBFS")
        _require(self.num_clips > 0, f"{path}.num_clips", "must be positive")
        _require(self.holdout_every == 0 or self.holdout_every >= 2, f"{path}.holdout_every",
                 "must be 0 (none held out) or at least 2")

    def what_the_data_is(self) -> "DataConfig":
        """The settings that change the clips, without where the files and caches live: a run
        whose data moved can resume, and a model scores alike exported or not. The held-out
        share applies to folders only (its default changed from 0 to 10, and an exported model
        keeps 0 for other sources)."""
        holdout = self.holdout_every if self.source == "folder" else 0
        return dataclasses.replace(self, root=None, cache_dir=None, holdout_every=holdout)


@dataclass(frozen=True)
class FeatureConfig:
    """How a clip becomes the image the GAN sees: a normalized log-mel spectrogram in [-1, 1].
    Image sources (MNIST) do not use it: their pixels are scaled to [-1, 1]."""

    sample_rate: int = 8000  # Hz; every clip is resampled to it
    # Every clip is cropped or padded to this (data.align says where from). auto: from the data,
    # the 90th percentile of the files' durations rounded up to a multiple of 16 frames
    # (ganaudio.data.resolve_clip_seconds), so most clips are whole; the summary counts the cut ones.
    clip_seconds: Union[float, Literal["auto"]] = 1.024
    n_fft: int = 512  # STFT size (and window length)
    hop_length: int = 128  # STFT hop; frames = clip samples // hop
    n_mels: int = 64  # mel bins: the image height
    fmin: float = 0.0  # Hz, lowest mel edge
    fmax: Optional[float] = None  # Hz, highest mel edge; null means sample_rate / 2
    clip_std: float = 3.0  # normalized log-mels are clipped at this many std (SpecGAN) then scaled to [-1, 1]
    # Inversion iterations. 16 and 32 score the same through audio (benchmarks/griffin_lim_accuracy.py)
    # and 16 is twice as fast (BENCHMARKS.md).
    griffin_lim_iters: int = 16
    griffin_lim_momentum: float = 0.99  # fast Griffin-Lim momentum (Perraudin et al. 2013)

    @property
    def clip_samples(self) -> int:
        if self.clip_seconds == "auto":
            raise UserError("features.clip_seconds: 'auto' is decided from the data's files; "
                            "call ganaudio.data.resolve_clip_seconds(recipe) first")
        return int(round(self.clip_seconds * self.sample_rate))

    @property
    def frames(self) -> int:
        return self.clip_samples // self.hop_length

    @property
    def mel_fmax(self) -> float:
        return self.sample_rate / 2 if self.fmax is None else self.fmax

    def validate(self, path: str) -> None:
        for key in ("sample_rate", "n_fft", "hop_length", "n_mels", "griffin_lim_iters"):
            _require(getattr(self, key) > 0, f"{path}.{key}", "must be positive")
        sized = self.clip_seconds != "auto"  # an auto length is checked once the data decides it
        _require(not sized or self.clip_seconds > 0, f"{path}.clip_seconds", "must be positive")
        _require(self.clip_std > 0, f"{path}.clip_std", "must be positive")
        _require(0 <= self.griffin_lim_momentum < 1, f"{path}.griffin_lim_momentum", "must be in [0, 1)")
        _require(self.hop_length <= self.n_fft, f"{path}.hop_length", f"must be <= n_fft ({self.n_fft})")
        n_freqs = self.n_fft // 2 + 1
        _require(self.n_mels <= n_freqs, f"{path}.n_mels",
                 f"must be <= n_fft/2+1 = {n_freqs} (n_fft={self.n_fft})")
        _require(self.fmin >= 0, f"{path}.fmin", "must be >= 0")
        _require(self.mel_fmax <= self.sample_rate / 2, f"{path}.fmax",
                 f"must be <= sample_rate/2 = {self.sample_rate / 2:g}")
        _require(self.fmin < self.mel_fmax, f"{path}.fmin", f"must be below fmax ({self.mel_fmax:g})")
        if sized:
            _require(self.frames >= 4, f"{path}.clip_seconds",
                     f"gives only {self.frames} frames at hop_length {self.hop_length}; need at least 4")
            _require(self.frames <= MAX_FRAMES, f"{path}.hop_length",
                     f"gives {self.frames} frames for a {self.clip_seconds:g} s clip; ganaudio supports at most 4,096")
        self._require_invertible_filterbank(path)

    def _require_invertible_filterbank(self, path: str) -> None:
        """Reject mel settings whose filterbank InverseMelScale cannot invert.

        With too many mels for the STFT resolution (8 kHz, n_fft 256, 64 mels), low filters
        cover the same single bin, the filterbank loses rank and the least-squares solve fails.
        """
        import torch
        import torchaudio

        fb = torchaudio.functional.melscale_fbanks(
            self.n_fft // 2 + 1, self.fmin, self.mel_fmax, self.n_mels, self.sample_rate)
        rank = int(torch.linalg.matrix_rank(fb))
        if rank < self.n_mels:
            raise UserError(
                f"{path}.n_mels: {self.n_mels} mel bins are too many for n_fft={self.n_fft} at "
                f"{self.sample_rate} Hz (the filterbank has rank {rank}, so it cannot be inverted); "
                f"lower {path}.n_mels, raise {path}.n_fft or raise {path}.fmin")


@dataclass(frozen=True)
class ModelConfig:
    """Generator and critic sizes. Both are built from the data's sample shape: `depth`
    halvings take (height, width) down to the base grid the generator starts from."""

    latent_dim: int = 128  # size of the noise vector z
    width: int = 16  # channels at full resolution; doubled at each halving, up to max_width
    max_width: int = 256
    # Number of 2x up/down-sampling stages; null halves while both sides stay even and >= 4
    # (64x64 -> 4 stages down to 4x4; 28x28 -> 2 stages down to 7x7).
    depth: Optional[int] = None
    kernel_size: int = 3  # odd: every conv keeps its centre
    # 2d: convolutions over (mel, time), as SpecGAN. 1d: mel bins are channels and convolutions
    # run over time only, as in TTS decoders; each layer sees the whole spectrum of a frame.
    conv: Literal["2d", "1d"] = "2d"
    conditional: bool = True  # class embedding in G, projection critic, when the data has labels
    # Initial scale of the generator's class embedding. Small, so z is the louder input at the
    # start: at 1.0 (as loud as z) the MNIST generator made one image per label whatever z was
    # (spread over z after 600 steps 0.05 against 0.31 for real digits; 0.26 at 0.1).
    label_embedding_std: float = 0.1
    # Minibatch standard deviation (ProGAN, Karras et al. 2018) in the critic's last block: how
    # much the samples of each group of this many differ, as one more feature channel, so the
    # critic can tell a generator that repeats one sound from real variety. 0 leaves it out;
    # else it must divide each process's batch. It did not help recall on the drum kit (0.46 +-
    # 0.12 against 0.57 +- 0.02 in 12 minutes) nor on digits (0.31 against 0.37 at 3,000 steps,
    # lower on 3 of 3 seeds), 3 seeds each (BENCHMARKS.md).
    minibatch_std: int = 0

    def validate(self, path: str) -> None:
        for key in ("latent_dim", "width", "max_width", "kernel_size", "label_embedding_std"):
            _require(getattr(self, key) > 0, f"{path}.{key}", "must be positive")
        _require(self.kernel_size % 2 == 1, f"{path}.kernel_size", "must be odd")
        _require(self.max_width >= self.width, f"{path}.max_width", f"must be >= width ({self.width})")
        _require(self.depth is None or self.depth >= 1, f"{path}.depth", "must be >= 1 (or null for auto)")
        _require(self.minibatch_std != 1 and self.minibatch_std >= 0, f"{path}.minibatch_std",
                 "must be 0 (off) or a group of 2 or more samples")


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation. Defaults are the SpecGAN/WaveGAN WGAN-GP settings; recipes change what
    the CPU budget needs and say why."""

    loss: Literal["wgan-gp", "hinge"] = "wgan-gp"  # see losses.py
    gp_weight: float = 10.0  # WGAN-GP gradient-penalty weight (wgan-gp only)
    r1_weight: float = 0.0  # R1 penalty weight (gamma / 2) on real samples; 0 disables it
    # Compute the penalties every N critic steps, scaled by N ("lazy regularisation",
    # StyleGAN2): the double backward pass is most of a critic step's cost on CPU.
    penalty_every: int = 1
    critic_steps: int = 5  # critic updates per generator update
    lr_generator: float = 1e-4
    lr_critic: float = 1e-4
    beta1: float = 0.5  # Adam betas
    beta2: float = 0.9
    batch_size: int = 64
    steps: int = 2000  # generator updates in all
    max_minutes: Optional[float] = None  # stop (with a checkpoint) after this wall time
    ema_decay: float = 0.999  # EMA generator used for sampling; 0 disables it
    ema_start: int = 100  # the EMA copies the generator for its first steps (warm start)
    # DiffAugment of every critic input, real and fake (diffaugment.py): the largest time shift
    # as a fraction of the width, and the side of a cutout patch as a fraction; 0 turns one off.
    diffaugment_shift: float = 0.0
    diffaugment_cutout: float = 0.0
    # Mode seeking (MSGAN, Mao et al. 2019): the generator also minimises weight / (distance
    # between two samples of one label / distance between their latents, averaged over pairs),
    # so that different z make different clips; 0 turns it off. Pairs need an even batch.
    mode_seeking_weight: float = 0.0
    device: Literal["auto", "cpu", "cuda"] = "auto"  # auto: CUDA when available
    # bf16 autocast where the hardware does bf16 natively: CUDA, and CPUs with AVX512-BF16 or
    # AMX (runtime.py); elsewhere fp32. The penalties are computed in fp32 either way.
    mixed_precision: bool = True
    threads: Optional[int] = None  # CPU threads for torch; null keeps torch's default
    seed: int = 0  # makes a CPU run repeatable
    log_every: int = 10  # steps between metrics.jsonl lines
    sample_every: int = 200  # steps between sample grids (and WAVs for audio)
    checkpoint_every: int = 500  # steps between checkpoints (one is always written at the end)
    keep_checkpoints: int = 3  # newest checkpoints kept; older ones are deleted
    # Score the EMA generator every N steps with the evaluation classifier (evaluate.py) on
    # eval_samples samples, log it, and keep the lowest Frechet distance as best.pt; 0 turns
    # it off. It needs labelled data.
    eval_every: int = 0
    eval_samples: int = 200
    # A NaN or Inf loss: "stop" ends the run naming the step, keeping the last good checkpoint;
    # "skip" drops that update and counts it (train/skipped_updates; a device sync per update on GPU).
    on_nan: Literal["stop", "skip"] = "stop"

    def validate(self, path: str) -> None:
        for key in ("critic_steps", "penalty_every", "batch_size", "steps", "log_every", "sample_every",
                    "checkpoint_every", "keep_checkpoints"):
            _require(getattr(self, key) > 0, f"{path}.{key}", "must be positive")
        for key in ("lr_generator", "lr_critic"):
            _require(getattr(self, key) > 0, f"{path}.{key}", "must be positive")
        _require(self.gp_weight >= 0, f"{path}.gp_weight", "must be >= 0")
        _require(self.r1_weight >= 0, f"{path}.r1_weight", "must be >= 0")
        _require(self.mode_seeking_weight >= 0, f"{path}.mode_seeking_weight", "must be >= 0")
        _require(not self.mode_seeking_weight or self.batch_size % 2 == 0, f"{path}.mode_seeking_weight",
                 f"pairs samples, so train.batch_size must be even, not {self.batch_size}")
        for key in ("beta1", "beta2", "ema_decay"):
            _require(0 <= getattr(self, key) < 1, f"{path}.{key}", "must be in [0, 1)")
        _require(self.ema_start >= 0, f"{path}.ema_start", "must be >= 0")
        for key in ("diffaugment_shift", "diffaugment_cutout"):
            _require(0 <= getattr(self, key) < 1, f"{path}.{key}", "must be in [0, 1)")
        _require(self.eval_every >= 0, f"{path}.eval_every", "must be >= 0 (0 turns evaluation off)")
        _require(self.eval_samples >= 20, f"{path}.eval_samples", "must be at least 20 (the inception score uses 10 splits)")
        _require(self.max_minutes is None or self.max_minutes > 0, f"{path}.max_minutes", "must be positive")
        _require(self.threads is None or self.threads > 0, f"{path}.threads", "must be positive")


@dataclass(frozen=True)
class VocoderConfig:
    """The learned vocoder (vocoder.py) and its training by `ganaudio train-vocoder`, on the
    recipe's real clips with the recipe's features. The GAN's `ganaudio train` ignores it."""

    width: int = 192  # channels of the ConvNeXt blocks over frames
    blocks: int = 6  # ConvNeXt blocks: 6 at width 192 (8 kHz, n_fft 512) is 1.5M parameters, 3.0 MB exported
    kernel_size: int = 7  # frames each block's depthwise convolution sees (odd)
    # Griffin-Lim iterations that find the phase of the learned spectrum.
    griffin_lim_iters: int = 32
    lr: float = 5.0e-4  # Adam
    batch_size: int = 16  # clips per step
    steps: int = 20000
    max_minutes: Optional[float] = None  # stop (with a checkpoint) after this wall time
    device: Literal["auto", "cpu", "cuda"] = "auto"
    threads: Optional[int] = None  # CPU threads for torch; null keeps torch's default
    seed: int = 0
    log_every: int = 50
    sample_every: int = 2000  # steps between previews: real and decoded WAVs and spectrograms
    # Steps between round-trip evaluations of eval_clips held-out clips (lowest multi-resolution
    # STFT distance kept as best.pt); 0 turns it off. It needs a held-out split.
    eval_every: int = 1000
    eval_clips: int = 64
    checkpoint_every: int = 1000
    keep_checkpoints: int = 2
    on_nan: Literal["stop", "skip"] = "stop"

    def validate(self, path: str) -> None:
        for key in ("width", "blocks", "kernel_size", "griffin_lim_iters", "lr", "batch_size", "steps",
                    "log_every", "sample_every", "checkpoint_every", "keep_checkpoints", "eval_clips"):
            _require(getattr(self, key) > 0, f"{path}.{key}", "must be positive")
        _require(self.kernel_size % 2 == 1, f"{path}.kernel_size", "must be odd")
        _require(self.eval_every >= 0, f"{path}.eval_every", "must be >= 0 (0 turns evaluation off)")
        _require(self.max_minutes is None or self.max_minutes > 0, f"{path}.max_minutes", "must be positive")
        _require(self.threads is None or self.threads > 0, f"{path}.threads", "must be positive")


@dataclass(frozen=True)
class OutputConfig:
    """What a run writes besides checkpoints."""

    grid_samples: int = 16  # samples in each PNG grid
    wav_samples: int = 4  # WAVs written with each grid (audio recipes)

    def validate(self, path: str) -> None:
        _require(self.grid_samples > 0, f"{path}.grid_samples", "must be positive")
        _require(self.wav_samples >= 0, f"{path}.wav_samples", "must be >= 0")


@dataclass(frozen=True)
class Recipe:
    """A whole resolved recipe; `name` is the recipe file's stem."""

    name: str = "recipe"
    data: DataConfig = field(default_factory=DataConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    vocoder: VocoderConfig = field(default_factory=VocoderConfig)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict, as YAML would hold it (for saving the resolved recipe)."""
        return {key: value for key, value in dataclasses.asdict(self).items() if key != "name"}

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


SECTIONS = ("data", "features", "model", "train", "output", "vocoder")


def load_recipe(source: str | Path, overrides: list[str] = (), data_root: str | None = None) -> Recipe:
    """Read a recipe file (or a bundled recipe by name), apply `--set` overrides, validate.

    `data_root` is the CLI's `--data PATH`, short for `--set data.root=PATH`.
    """
    path = resolve_recipe_path(source)
    raw = _read_yaml_with_bases(path, seen=())
    for override in overrides:
        _apply_override(raw, override)
    if isinstance(raw.get("output"), dict) and raw["output"].get("dir") is not None:
        # Silently ignored, the run would go elsewhere than the recipe or --set says.
        raise UserError(f"{path}: output.dir is retired; name the run folder with --out DIR (and delete the key)")
    if data_root is not None:
        _apply_override(raw, f"data.root={data_root}")
    _switch_synthetic_voice_to_folder(raw)
    return recipe_from_dict(raw, name=path.stem)


def with_data_root(recipe: Recipe, data_root: str) -> Recipe:
    """The recipe reading its data from `data_root`, exactly as `--data PATH` does at training
    (a synthetic-voice recipe becomes a folder one)."""
    raw = recipe.to_dict()
    raw["data"]["root"] = data_root
    _switch_synthetic_voice_to_folder(raw)
    return recipe_from_dict(raw, name=recipe.name)


def recipe_from_dict(raw: dict[str, Any], name: str = "recipe") -> Recipe:
    """Build and validate a Recipe from plain data (as loaded from YAML)."""
    if not isinstance(raw, dict):
        raise UserError("recipe: must be a mapping of sections")
    unknown = sorted(set(raw) - set(SECTIONS))
    if unknown:
        raise UserError(f"{unknown[0]}: unknown recipe section (sections: {', '.join(SECTIONS)})")
    raw = _without_retired_keys(raw)
    hints = typing.get_type_hints(Recipe)
    sections = {key: _build_section(hints[key], raw.get(key), key) for key in SECTIONS}
    return Recipe(name=name, **sections)


def _without_retired_keys(raw: dict[str, Any]) -> dict[str, Any]:
    """Older recipes, and the recipes inside older checkpoints, hold keys since retired:
    `features.kind` (the data source decides) and `output.dir` (`--out` names the run folder).
    A kind that says what the source implies is dropped, another is an error; output.dir is
    dropped whatever it says (a checkpoint cannot be edited; load_recipe refuses it in YAML)."""
    raw = {key: dict(value) if isinstance(value, dict) else value for key, value in raw.items()}
    features, output, data = raw.get("features"), raw.get("output"), raw.get("data")
    if isinstance(features, dict) and "kind" in features:
        source = data.get("source", DataConfig.source) if isinstance(data, dict) else DataConfig.source
        implied = "image" if source in IMAGE_SOURCES else "mel"
        kind = features.pop("kind")
        if kind != implied:
            raise UserError(f"features.kind: retired, data.source decides; '{source}' data is {implied}, "
                            f"not {kind!r} (delete the key)")
    if isinstance(output, dict):
        output.pop("dir", None)  # a checkpoint's recipe may name its run folder: it meant nothing else
    return raw


def resolve_recipe_path(source: str | Path) -> Path:
    """A path as given, or the name of a bundled recipe (`digits` -> recipes/digits.yaml)."""
    path = Path(source)
    if path.is_file():
        return path
    bundled = RECIPES_DIR / f"{path.stem}.yaml"
    if path.suffix in ("", ".yaml") and path.parent == Path(".") and bundled.is_file():
        return bundled
    names = ", ".join(sorted(p.stem for p in RECIPES_DIR.glob("*.yaml")))
    raise UserError(f"{source}: recipe file not found (bundled recipes, by name: {names})")


def _read_yaml_with_bases(path: Path, seen: tuple[Path, ...]) -> dict[str, Any]:
    """Load YAML, merging it over the recipe named by its `base:` key (relative to it)."""
    if path.resolve() in seen:
        raise UserError(f"{path}: `base` recipes include each other in a loop")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as err:
        raise UserError(f"{path}: cannot read recipe ({_first_line(err)})") from None
    if not isinstance(raw, dict):
        raise UserError(f"{path}: a recipe must be a mapping of sections")
    base = raw.pop("base", None)
    if base is None:
        return raw
    base_path = (path.parent / str(base))
    if not base_path.is_file():
        raise UserError(f"{path}: base recipe {base_path} not found")
    return _deep_merge(_read_yaml_with_bases(base_path, seen + (path.resolve(),)), raw)


def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _apply_override(raw: dict[str, Any], override: str) -> None:
    """Apply one `section.key=value`; the value is parsed as YAML (64, 1e-4, null, true)."""
    dotted, sep, text = override.partition("=")
    parts = dotted.strip().split(".")
    if not sep or len(parts) != 2 or not all(parts):
        raise UserError(f"--set {override}: expected section.key=value, e.g. features.n_mels=64")
    section, key = parts
    if section not in SECTIONS:
        raise UserError(f"{dotted}: unknown recipe section (sections: {', '.join(SECTIONS)})")
    try:
        value = yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError:
        value = text
    target = raw.setdefault(section, {})
    if not isinstance(target, dict):
        raise UserError(f"{section}: must be a mapping")
    target[key] = value


def _switch_synthetic_voice_to_folder(raw: dict[str, Any]) -> None:
    """`voice.yaml --data PATH` means: train on my folder instead of the built-in corpus."""
    data = raw.get("data")
    if isinstance(data, dict) and data.get("source") == "synthetic-voice" and data.get("root"):
        data["source"] = "folder"


def _build_section(cls: Any, raw: Any, path: str) -> Any:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise UserError(f"{path}: must be a mapping of keys, got {type(raw).__name__}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    for key in raw:
        if key not in names:
            known = ", ".join(names) if names else "none yet"
            raise UserError(f"{path}.{key}: unknown key (known keys: {known})")
    values = {key: _check_type(value, hints[key], f"{path}.{key}") for key, value in raw.items()}
    for key, value in values.items():  # before validate(), which builds filterbanks from the sizes
        limit = SIZE_LIMITS.get(f"{path}.{key}")
        if limit is not None and isinstance(value, (int, float)) and value > limit:
            raise UserError(f"{path}.{key}: {value} is more than ganaudio supports (at most {limit:,})")
    section = cls(**values)
    if hasattr(section, "validate"):
        section.validate(path)
    return section


def _check_type(value: Any, hint: Any, path: str) -> Any:
    """Return `value` as type `hint` or raise naming `path`; ints are accepted as floats."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        non_none = [option for option in options if option is not type(None)]
        if len(non_none) == 1:
            return _check_type(value, non_none[0], path)
        for option in non_none:  # e.g. a number or 'auto': the first that takes the value
            try:
                return _check_type(value, option, path)
            except UserError:
                pass
        names = " or ".join("one of " + ", ".join(map(str, typing.get_args(o))) if typing.get_origin(o) is Literal
                            else f"a {'number' if o is float else o.__name__}" for o in non_none)
        raise UserError(f"{path}: must be {names}, got {value!r}")
    if origin is Literal:
        choices = typing.get_args(hint)
        if value not in choices:
            raise UserError(f"{path}: must be one of {', '.join(map(str, choices))}, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, str):  # PyYAML reads 2e-4 (no dot) as a string; it is a number
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
        raise UserError(f"{path}: must be a number, got {value!r}")
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise UserError(f"{path}: must be an integer, got {value!r}")
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise UserError(f"{path}: must be true or false, got {value!r}")
    if hint is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise UserError(f"{path}: must be a string, got {value!r}")
    raise TypeError(f"unsupported config type {hint} at {path}")


# Sizes past which a recipe is a typo, not an experiment: refused before anything is allocated.
SIZE_LIMITS = {
    "data.num_clips": 100_000, "features.sample_rate": 192_000, "features.n_fft": 16_384,
    "features.clip_seconds": 60.0, "features.griffin_lim_iters": 10_000, "model.latent_dim": 4096,
    "model.width": 4096, "model.max_width": 4096, "model.depth": 12, "model.kernel_size": 63,
    "train.batch_size": 65_536, "train.critic_steps": 100, "train.eval_samples": 100_000,
    "output.grid_samples": 1024, "output.wav_samples": 1024, "train.steps": 10 ** 9,
    "vocoder.width": 4096, "vocoder.blocks": 64, "vocoder.kernel_size": 63, "vocoder.griffin_lim_iters": 10_000,
    "vocoder.batch_size": 65_536, "vocoder.steps": 10 ** 9, "vocoder.eval_clips": 100_000,
    "data.seed": 2 ** 63 - 1, "train.seed": 2 ** 63 - 1, "vocoder.seed": 2 ** 63 - 1,  # what a torch.Generator takes
}


def _require(ok: bool, path: str, message: str) -> None:
    if not ok:
        raise UserError(f"{path}: {message}")


def _first_line(err: Exception) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
