"""Waveforms <-> the normalized log-mel images the GAN sees, and pixels <-> [-1, 1] for images.

Forward (SpecGAN's recipe): waveform -> mel power (torchaudio) -> log -> per-mel-bin
standardisation with statistics fitted on the training set -> clip at `clip_std` standard
deviations -> divide by `clip_std`, so values lie in [-1, 1]. Inverse: undo all that ->
mel power -> inverse mel filterbank -> matched to the mels -> Griffin-Lim -> waveform (a learned
vocoder, vocoder.py, replaces the inverse filterbank). Everything is batched and runs on
the device the input tensor is on. The fitted statistics are the feature state, saved with
the feature cache and with every checkpoint.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torchaudio

from ganaudio.config import FeatureConfig

LOG_FLOOR = 1e-6  # added to mel power before the log, so silence maps to a finite value
STFT_BATCH = 256  # clips per STFT batch: keeps memory flat for any dataset size
# Richardson-Lucy steps of match_mels. On 100 held-out FSDD clips (Griffin-Lim 32) the
# pseudo-inverse alone scored PESQ-NB 3.40; after 1, 4, 16 and 64 steps 3.67, 3.80, 3.88, 3.90
# (BENCHMARKS.md): 16 takes nearly all of it at a quarter of 64's cost.
MEL_MATCHING_STEPS = 16


@dataclass(frozen=True)
class MelStatistics:
    """Per-mel-bin mean and standard deviation of log-mel power over the training clips."""

    mean: torch.Tensor  # (n_mels,)
    std: torch.Tensor  # (n_mels,)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"mean": self.mean.cpu(), "std": self.std.cpu()}

    @classmethod
    def from_state_dict(cls, state: dict[str, torch.Tensor]) -> "MelStatistics":
        return cls(mean=state["mean"].float(), std=state["std"].float())


def fit_statistics(log_mels: torch.Tensor) -> MelStatistics:
    """Fit per-bin statistics on log-mels of shape (clips, n_mels, frames)."""
    per_bin = log_mels.transpose(0, 1).reshape(log_mels.shape[1], -1).double()
    mean = per_bin.mean(dim=1)
    # A floor on std keeps a constant bin (e.g. band-limited silence) from dividing by zero.
    std = per_bin.std(dim=1).clamp_min(1e-3)
    return MelStatistics(mean=mean.float(), std=std.float())


class MelFeatures:
    """Encode waveforms (batch, samples) to (batch, 1, n_mels, frames) in [-1, 1] and back.

    Holds the fitted statistics and, per device, the torchaudio transforms (their filterbanks
    and windows are built once per device, not per call).
    """

    def __init__(self, config: FeatureConfig, statistics: MelStatistics | None = None):
        self.config = config
        self.statistics = statistics
        self._transforms: dict[torch.device, dict] = {}

    @property
    def sample_shape(self) -> tuple[int, int, int]:
        return (1, self.config.n_mels, self.config.frames)

    def log_mel(self, waveforms: torch.Tensor) -> torch.Tensor:
        """(batch, samples) -> log mel power (batch, n_mels, frames), before normalization."""
        return self.mel_power(waveforms)[..., :self.config.frames].add(LOG_FLOOR).log()

    def mel_power(self, waveforms: torch.Tensor) -> torch.Tensor:
        """(batch, samples) -> mel power (batch, n_mels, all STFT frames of the waveforms)."""
        mel = self._transform(waveforms.device, "mel")
        return torch.cat([mel(chunk) for chunk in waveforms.split(STFT_BATCH)])

    def normalize(self, log_mels: torch.Tensor) -> torch.Tensor:
        """log-mels (batch, n_mels, frames) -> (batch, 1, n_mels, frames) in [-1, 1]."""
        mean, std = self._statistics_on(log_mels.device)
        clip = self.config.clip_std
        standard = (log_mels - mean[:, None]) / std[:, None]
        return (standard.clamp(-clip, clip) / clip).unsqueeze(1)

    def encode(self, waveforms: torch.Tensor) -> torch.Tensor:
        """(batch, samples) -> (batch, 1, n_mels, frames) in [-1, 1]."""
        return self.normalize(self.log_mel(waveforms))

    def denormalize(self, features: torch.Tensor) -> torch.Tensor:
        """(batch, 1, n_mels, frames) in [-1, 1] -> mel power (batch, n_mels, frames)."""
        mean, std = self._statistics_on(features.device)
        log_mels = features.squeeze(1).float() * self.config.clip_std * std[:, None] + mean[:, None]
        return (log_mels.exp() - LOG_FLOOR).clamp_min(0)

    def mel_filterbank(self, device: torch.device) -> torch.Tensor:
        """(n_fft/2+1, n_mels): the triangular filters the mels are made with."""
        return self._transform(device, "mel").mel_scale.fb

    def power_spectrogram(self, waveforms: torch.Tensor) -> torch.Tensor:
        """(batch, samples) -> linear power spectrogram (batch, n_fft/2+1, frames): the STFT the
        mels are made from, which a learned vocoder is taught to restore."""
        spectrogram = self._transform(waveforms.device, "mel").spectrogram
        return spectrogram(waveforms)[..., :self.config.frames]

    def decode(self, features: torch.Tensor, n_iter: int | None = None) -> torch.Tensor:
        """(batch, 1, n_mels, frames) -> waveforms (batch, clip samples): the pseudo-inverse
        spectrum, matched to the mels, then Griffin-Lim."""
        return self.griffin_lim(self.match_mels(self.linear_power(features), features), n_iter=n_iter)

    def match_mels(self, power: torch.Tensor, features: torch.Tensor, steps: int = MEL_MATCHING_STEPS) -> torch.Tensor:
        """Rescale each bin of a power spectrogram (batch, freqs, frames) so that its mel bands
        come to the mel power of `features` (batch, 1, n_mels, frames): Richardson-Lucy updates
        (the filterbank as the blur), multiplicative, so a bin at 0 stays 0 and a peak stays a
        peak. The pseudo-inverse spreads each band's power evenly over its bins; these updates
        move it onto the bins the neighbouring bands agree on, which sharpens harmonics."""
        filterbank = self.mel_filterbank(power.device)  # (freqs, n_mels)
        to_bands = filterbank.T.contiguous()  # batched matmuls: 1.7x faster than einsum here
        target = self.denormalize(features)
        heard = filterbank.sum(dim=1)[:, None].clamp_min(1e-8)  # (freqs, 1): each bin's total weight
        for _ in range(steps):
            bands = (to_bands @ power).clamp_min(1e-12)
            power = power * (filterbank @ (target / bands)) / heard
        return power

    def linear_power(self, features: torch.Tensor) -> torch.Tensor:
        """(batch, 1, n_mels, frames) -> linear power spectrogram (batch, n_fft/2+1, frames):
        the minimum-norm least-squares inverse of the mel filterbank, clipped at 0.

        This is what torchaudio's InverseMelScale computes, but it solves lstsq afresh for every
        clip; the filterbank is fixed, so its pseudo-inverse, computed once, gives the same
        solution (to 1e-5) with one matmul (benchmarks/synth_speed.py)."""
        return torch.relu(self._transform(features.device, "inverse_mel") @ self.denormalize(features))

    def griffin_lim(self, power: torch.Tensor, n_iter: int | None = None) -> torch.Tensor:
        """Linear power spectrogram (batch, freqs, frames) -> waveforms (batch, clip samples).

        Starts from zero phase rather than torchaudio's random phase, so decoding is
        deterministic without touching the global RNG.
        """
        cfg = self.config
        # The encoder dropped the STFT's last frame; repeating the edge frame restores it.
        power = torch.cat([power, power[..., -1:]], dim=-1)
        griffin_lim = torchaudio.transforms.GriffinLim(
            n_fft=cfg.n_fft, n_iter=cfg.griffin_lim_iters if n_iter is None else n_iter,
            hop_length=cfg.hop_length, power=2.0, momentum=cfg.griffin_lim_momentum,
            length=cfg.clip_samples, rand_init=False).to(power.device)
        return griffin_lim(power)

    def state_dict(self) -> dict[str, torch.Tensor]:
        if self.statistics is None:
            raise RuntimeError("MelFeatures has no statistics: build it with fit_statistics() or from_state_dict()")
        return self.statistics.state_dict()

    @classmethod
    def from_state_dict(cls, config: FeatureConfig, state: dict[str, torch.Tensor]) -> "MelFeatures":
        return cls(config, MelStatistics.from_state_dict(state))

    def _statistics_on(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        if self.statistics is None:
            raise RuntimeError("MelFeatures has no statistics: build it with fit_statistics() or from_state_dict()")
        return self.statistics.mean.to(device), self.statistics.std.to(device)

    def _transform(self, device: torch.device, name: str) -> torch.nn.Module | torch.Tensor:
        """MelSpectrogram and the inverse filterbank for `device`, built once."""
        if device not in self._transforms:
            cfg = self.config
            self._transforms[device] = {
                "mel": torchaudio.transforms.MelSpectrogram(
                    sample_rate=cfg.sample_rate, n_fft=cfg.n_fft, hop_length=cfg.hop_length,
                    f_min=cfg.fmin, f_max=cfg.mel_fmax, n_mels=cfg.n_mels, power=2.0).to(device),
                # (freqs, n_mels) pseudo-inverse of InverseMelScale's filterbank (see linear_power)
                "inverse_mel": torch.linalg.pinv(torchaudio.functional.melscale_fbanks(
                    cfg.n_fft // 2 + 1, cfg.fmin, cfg.mel_fmax, cfg.n_mels, cfg.sample_rate).T.double()
                ).float().to(device),
            }
        return self._transforms[device][name]


def mel_band_centres_hz(config: FeatureConfig) -> torch.Tensor:
    """The centre frequency of each mel band, on the HTK mel scale torchaudio's MelSpectrogram
    uses: what a plot's frequency axis is labelled with."""
    to_mel = lambda hz: 2595.0 * math.log10(1.0 + hz / 700.0)  # noqa: E731
    mels = torch.linspace(to_mel(config.fmin), to_mel(config.mel_fmax), config.n_mels + 2, dtype=torch.float64)
    return 700.0 * (10.0 ** (mels[1:-1] / 2595.0) - 1.0)


def encode_images(pixels: torch.Tensor) -> torch.Tensor:
    """uint8 images (batch, height, width) -> (batch, 1, height, width) in [-1, 1]."""
    return (pixels.float() / 127.5 - 1.0).unsqueeze(1)


def decode_images(features: torch.Tensor) -> torch.Tensor:
    """(batch, 1, height, width) in [-1, 1] -> uint8 images (batch, height, width)."""
    return ((features.squeeze(1).clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
