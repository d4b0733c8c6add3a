"""Normalized log-mels -> waveforms: the decoders (vocoders) behind every WAV ganaudio writes.

`Vocoder` is what synthesis, augmentation, evaluation and previews call; `choose_vocoder` picks
one once: a learned vocoder the user names or a generator file holds, else `GriffinLimVocoder`,
the fallback that needs no training.

A mel image keeps n_mels bands of a spectrum of n_fft/2+1 bins and no phase. The fallback
decoder (features.py) spreads the bands back over the bins with the filterbank's pseudo-inverse,
which smears harmonics, then estimates a phase by Griffin-Lim. `VocoderNet` learns a correction
to that pseudo-inverse log-power spectrum, frame by frame; Richardson-Lucy steps bring the
corrected spectrum's bands back to the mels being decoded (MelFeatures.match_mels, which the
fallback runs too); Griffin-Lim finds its phase:

    features (n, 1, n_mels, frames) -> pseudo-inverse power (n, freqs, frames)
        -> + learned log-power correction -> mel matching -> Griffin-Lim -> waveforms (n, samples)

Written after FreeV (Lv et al. 2024: start the magnitude from the filterbank's pseudo-inverse)
and Vocos (Siuzdenko et al. 2023: ConvNeXt blocks over frames, so nothing runs at the sample
rate), not copied from their code. The correction's last layer starts at zero, so an untrained
vocoder decodes as the fallback does at the same iterations, and training moves it only where
the loss gains. The phase is not learned: in issue 17's calibration on 2 CPU cores, a
Vocos-style network that learned it scored PESQ-NB 2.67 after 18 minutes against Griffin-Lim's
3.26, while a learned magnitude alone passed Griffin-Lim within minutes.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

from ganaudio.checkpoint import (FORMAT_VERSION, KINDS, VOCODER_EXPORT_KIND, VOCODER_KIND, load_checkpoint,
                                 require_export_target, resolve_checkpoint, same_feature_state, save_atomically)
from ganaudio.config import FeatureConfig, VocoderConfig, recipe_from_dict
from ganaudio.errors import UserError
from ganaudio.features import MelFeatures
from ganaudio.runtime import use_bf16

# Two floors, relative to each clip's loudest pseudo-inverse bin. The loss compares log
# powers above LOSS_FLOOR (-60 dB): quieter bins count as silence, so it is not spent below what
# anyone hears. The correction multiplies the pseudo-inverse plus OUTPUT_FLOOR (-80 dB), so where
# the pseudo-inverse is silent a correction must be large to add sound, and the loss, flat
# there, never asks for one: no hiss in the pauses (at one floor for both the vocoder added
# noise at -60 dB where the clips had none).
LOSS_FLOOR = 1e-6
OUTPUT_FLOOR = 1e-8
# Feature settings a vocoder must share with the generator whose samples it decodes: they fix
# what a normalized mel value means. The clip length and Griffin-Lim settings do not.
MATCHING_FEATURES = ("sample_rate", "n_fft", "hop_length", "n_mels", "fmin", "fmax", "clip_std")
GRIFFIN_LIM = "griffin-lim"  # --vocoder griffin-lim: the fallback, even where a learned one is stored
# Clips per decoder call. Smaller batches stay in cache: 1,000 clips at 32 iterations took
# 5.2 s in batches of 20-50, 6.2 s in batches of 250 and 21 s in one batch (synth_speed.py).
VOCODER_BATCH = 50


class Vocoder(Protocol):
    """Mel samples (n, 1, n_mels, frames) in [-1, 1] -> waveforms (n, samples)."""

    sample_rate: int
    description: str  # what decodes, for the lines that say what was written

    def __call__(self, features: torch.Tensor) -> torch.Tensor: ...


class GriffinLimVocoder:
    """Undo the feature normalization, solve the inverse mel scale, then Griffin-Lim."""

    def __init__(self, features: MelFeatures, n_iter: int | None = None):
        self.features = features
        self.n_iter = n_iter
        self.sample_rate = features.config.sample_rate
        self.description = f"Griffin-Lim ({n_iter or features.config.griffin_lim_iters} iterations)"

    def __call__(self, features: torch.Tensor) -> torch.Tensor:
        return self.features.decode(features, n_iter=self.n_iter)


def vocode(vocoder: Vocoder, features: torch.Tensor) -> torch.Tensor:
    """Run the vocoder VOCODER_BATCH clips at a time (the fastest measured)."""
    return torch.cat([vocoder(chunk) for chunk in features.split(VOCODER_BATCH)])


class ConvNextBlock(nn.Module):
    """Depthwise conv over frames, then a per-frame MLP, in a residual (ConvNeXt, as Vocos uses it)."""

    def __init__(self, width: int, kernel_size: int, layer_scale: float):
        super().__init__()
        self.depthwise = nn.Conv1d(width, width, kernel_size, padding=kernel_size // 2, groups=width)
        self.norm = nn.LayerNorm(width)
        self.expand = nn.Linear(width, 3 * width)
        self.project = nn.Linear(3 * width, width)
        self.scale = nn.Parameter(torch.full((width,), layer_scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(n, width, frames) -> (n, width, frames)."""
        y = self.depthwise(x).transpose(1, 2)
        y = self.project(nn.functional.gelu(self.expand(self.norm(y))))
        return x + (self.scale * y).transpose(1, 2)


class VocoderNet(nn.Module):
    """Normalized mels (n, 1, n_mels, frames) -> log-power correction (n, n_fft/2+1, frames)."""

    def __init__(self, n_mels: int, n_freqs: int, config: VocoderConfig):
        super().__init__()
        self.embed = nn.Conv1d(n_mels, config.width, config.kernel_size, padding=config.kernel_size // 2)
        self.norm = nn.LayerNorm(config.width)
        self.blocks = nn.Sequential(*[ConvNextBlock(config.width, config.kernel_size, 1.0 / config.blocks)
                                      for _ in range(config.blocks)])
        self.final_norm = nn.LayerNorm(config.width)
        self.head = nn.Linear(config.width, n_freqs)
        nn.init.zeros_(self.head.weight)  # start as the pseudo-inverse (see the module docstring)
        nn.init.zeros_(self.head.bias)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = self.embed(features.squeeze(1))
        x = self.norm(x.transpose(1, 2)).transpose(1, 2)
        x = self.final_norm(self.blocks(x).transpose(1, 2))
        return self.head(x).transpose(1, 2)


def relative_floor(power: torch.Tensor, relative: float) -> torch.Tensor:
    """(n, freqs, frames) -> (n, 1, 1): `relative` times each clip's loudest bin (never 0)."""
    return power.amax(dim=(1, 2), keepdim=True).clamp_min(1e-10) * relative


def corrected_power(correction: torch.Tensor, base_power: torch.Tensor) -> torch.Tensor:
    """The pseudo-inverse power (n, freqs, frames) with a log-power correction applied."""
    floor = relative_floor(base_power, OUTPUT_FLOOR)
    return ((base_power + floor).log() + correction).exp().sub(floor).clamp_min(0)


def spectral_loss(correction: torch.Tensor, base_power: torch.Tensor, true_power: torch.Tensor) -> torch.Tensor:
    """Spectral convergence of the magnitudes (led by the loud bins) plus the L1 distance of
    the log-power spectra above LOSS_FLOOR (quiet bins, decay tails and noise floors): the two
    halves of Parallel WaveGAN's STFT loss, at the features' own resolution."""
    predicted = corrected_power(correction, base_power)
    floor = relative_floor(base_power, LOSS_FLOOR)
    log_distance = ((predicted + floor).log() - (true_power + floor).log()).abs().mean()
    magnitude, true_magnitude = predicted.add(1e-12).sqrt(), true_power.sqrt()
    convergence = (torch.linalg.norm((true_magnitude - magnitude).flatten(1), dim=1)
                   / torch.linalg.norm(true_magnitude.flatten(1), dim=1).clamp_min(1e-8)).mean()
    return convergence + log_distance


class LearnedVocoder:
    """A trained VocoderNet with the features it decodes; a `Vocoder` for synthesis (synth.py)."""

    def __init__(self, net: VocoderNet, features: MelFeatures, n_iter: int, step: int | None = None):
        self.net = net  # the one being trained, or one load_vocoder froze
        self.autocast = use_bf16(next(net.parameters()).device, mixed_precision=True)
        self.features = features
        self.n_iter = n_iter
        self.sample_rate = features.config.sample_rate
        trained = f"trained {step:,} steps, " if step is not None else ""
        self.description = f"the learned vocoder ({trained}Griffin-Lim {n_iter} iterations)"

    def weights_digest(self) -> str:
        """A short SHA-256 of the network's weights: two vocoders with the same description
        (steps, iterations) but other weights decode differently, and best.pt must tell them apart."""
        digest = hashlib.sha256()
        for name, value in self.net.state_dict().items():
            digest.update(name.encode())
            digest.update(value.detach().float().cpu().contiguous().numpy().tobytes())
        return digest.hexdigest()[:12]

    def to(self, device: torch.device) -> "LearnedVocoder":
        self.net.to(device)
        self.autocast = use_bf16(device, mixed_precision=True)
        return self

    @torch.no_grad()
    def power(self, features: torch.Tensor) -> torch.Tensor:
        """(n, 1, n_mels, frames) -> the corrected linear power spectrum (n, freqs, frames)."""
        device = next(self.net.parameters()).device
        features = features.to(device)
        # bf16 where the hardware has it: 3x faster on a CPU with AVX512-BF16, and the same
        # round trip (PESQ-NB 3.96, STFT distance 0.533 against 0.534 in fp32; BENCHMARKS.md)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=self.autocast):
            correction = self.net(features)
        power = corrected_power(correction.float(), self.features.linear_power(features))
        return self.features.match_mels(power, features)

    def __call__(self, features: torch.Tensor) -> torch.Tensor:
        """(n, 1, n_mels, frames) -> waveforms (n, clip samples)."""
        return self.features.griffin_lim(self.power(features), n_iter=self.n_iter)


def build_net(features: FeatureConfig, config: VocoderConfig) -> VocoderNet:
    return VocoderNet(features.n_mels, features.n_fft // 2 + 1, config)


def vocoder_payload(state: dict[str, Any], half: bool) -> dict[str, Any]:
    """What decoding needs from a vocoder checkpoint (training or exported): weights, the
    recipe (its features and vocoder sections, without this machine's data paths) and the
    feature statistics."""
    weights = {k: v.half() if half and v.is_floating_point() else v for k, v in state["vocoder"].items()}
    recipe = {**state["recipe"], "data": {**state["recipe"]["data"], "root": None, "cache_dir": None}}
    return {"vocoder": weights, "recipe": recipe, "recipe_name": state["recipe_name"],
            "feature_state": state["feature_state"], "step": state["step"]}


def is_vocoder_file(path: Path) -> bool:
    """Whether a checkpoint file holds a vocoder (export writes a vocoder alone from it)."""
    return load_checkpoint(path, kinds=KINDS)["kind"] in (VOCODER_KIND, VOCODER_EXPORT_KIND)


def export_vocoder(source: Path | str, out: Path | str, griffin_lim_iters: int | None = None) -> Path:
    """Write a vocoder alone, weights in float16, for `--vocoder FILE` (about a third of a
    training checkpoint: no optimizer)."""
    out = Path(out)
    require_export_target(out, resolve_checkpoint(source))
    payload = read_vocoder(source)
    if griffin_lim_iters is not None:
        if griffin_lim_iters <= 0:
            raise UserError(f"griffin-lim-iters: must be positive, got {griffin_lim_iters}")
        payload = with_vocoder_settings(payload, griffin_lim_iters=griffin_lim_iters)
    save_atomically({**vocoder_payload(payload, half=True), "kind": VOCODER_EXPORT_KIND,
                     "format_version": FORMAT_VERSION}, out)
    return out


def require_fits_generator(vocoder: dict[str, Any], generator: dict[str, Any], source: str) -> None:
    """A vocoder payload decodes this generator checkpoint's samples, or a UserError naming `source`."""
    recipe = recipe_from_dict(generator["recipe"], name=generator.get("recipe_name", "recipe"))
    if recipe.data.is_images:
        raise UserError(f"{source}: an image model has no vocoder (drop --vocoder)")
    load_vocoder(vocoder, MelFeatures.from_state_dict(recipe.features, generator["feature_state"]), source)


def read_vocoder(path: Path | str) -> dict[str, Any]:
    """A vocoder file's payload: a training checkpoint of `ganaudio train-vocoder`, its run
    folder (best.pt, else the newest checkpoint) or an exported vocoder."""
    path = resolve_checkpoint(path)
    return vocoder_payload(load_checkpoint(path, kinds=(VOCODER_KIND, VOCODER_EXPORT_KIND)), half=False)


def load_vocoder(payload: dict[str, Any], features: MelFeatures, source: str, n_iter: int | None = None,
                 device: torch.device = torch.device("cpu")) -> LearnedVocoder:
    """A LearnedVocoder for a generator's `features`, from a vocoder payload (read_vocoder, or
    the one an exported generator holds); a UserError naming `source` when it was trained on
    other features than these. `n_iter` replaces the vocoder's Griffin-Lim iterations."""
    recipe = recipe_from_dict(payload["recipe"], name=payload.get("recipe_name", "recipe"))
    require_same_features(recipe.features, payload["feature_state"], features, source)
    net = build_net(features.config, recipe.vocoder)
    try:
        net.load_state_dict({k: v.float() for k, v in payload["vocoder"].items()})
    except RuntimeError:
        raise UserError(f"{source}: its weights do not fit the vocoder its recipe describes") from None
    return LearnedVocoder(net.eval().requires_grad_(False), features, n_iter or recipe.vocoder.griffin_lim_iters,
                          step=int(payload["step"])).to(device)


def require_same_features(trained: FeatureConfig, trained_state: dict[str, torch.Tensor], features: MelFeatures,
                          source: str) -> None:
    """The vocoder reads normalized mels exactly as the generator writes them, or it is refused."""
    ours = features.config
    for key in MATCHING_FEATURES:
        if getattr(trained, key) != getattr(ours, key):
            raise UserError(f"{source}: the vocoder was trained on features.{key} = {getattr(trained, key)} and "
                            f"these samples have {getattr(ours, key)}; train a vocoder on this recipe's data")
    if not same_feature_state(trained_state, features.state_dict()):
        raise UserError(f"{source}: the vocoder was trained on other feature statistics (other data) than these "
                        f"samples; train a vocoder on the data this model was trained on")


def with_vocoder_settings(payload: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A payload whose recipe's vocoder section has `changes` (export --griffin-lim-iters)."""
    recipe = dict(payload["recipe"])
    recipe["vocoder"] = dataclasses.asdict(dataclasses.replace(
        recipe_from_dict(recipe).vocoder, **changes))
    return {**payload, "recipe": recipe}


def choose_vocoder(features: MelFeatures, choice: Path | str | None, stored: dict[str, Any] | None, source: str,
                   n_iter: int | None = None, device: torch.device = torch.device("cpu")) -> Vocoder:
    """The decoder for a generator's samples, chosen once for every command: `choice` is a
    vocoder file or run folder, "griffin-lim", or None for the vocoder `stored` in the generator
    file (`source`), else Griffin-Lim. `n_iter` replaces the Griffin-Lim iterations of either."""
    if n_iter is not None and n_iter <= 0:
        raise UserError(f"griffin-lim-iters: must be positive, got {n_iter}")
    if choice is None and stored is not None:
        return load_vocoder(stored, features, f"{source} (its vocoder; --vocoder griffin-lim decodes without it)",
                            n_iter, device)
    if choice is None or str(choice) == GRIFFIN_LIM:
        return GriffinLimVocoder(features, n_iter)
    return load_vocoder(read_vocoder(choice), features, str(choice), n_iter, device)
