"""Mel features: shapes, ranges, statistics on known data, and an invertible round trip."""

from __future__ import annotations

import pytest
import soundfile
import torch
import torchaudio

from ganaudio.audio import fit_length, normalize_level
from ganaudio.config import FeatureConfig
from ganaudio.features import MelFeatures, decode_images, encode_images, fit_statistics, mel_band_centres_hz
from ganaudio.plots import frequency_ticks
from tests.helpers import tone

CONFIG = FeatureConfig(sample_rate=8000, clip_seconds=0.512, n_fft=256, hop_length=64, n_mels=32)


def tones(count: int) -> torch.Tensor:
    return torch.stack([torch.from_numpy(tone(0.5, 8000, freq=200.0 + 150 * i)) for i in range(count)])


def padded(waves: torch.Tensor, config: FeatureConfig) -> torch.Tensor:
    return torch.stack([fit_length(w, config.clip_samples)[0] for w in waves])


def test_encode_shape_and_range():
    waves = padded(tones(6), CONFIG)
    features = MelFeatures(CONFIG)
    features.statistics = fit_statistics(features.log_mel(waves))
    encoded = features.encode(waves)
    assert encoded.shape == (6, 1, 32, CONFIG.frames) == (6, *features.sample_shape)
    assert encoded.min() >= -1 and encoded.max() <= 1
    assert torch.isfinite(encoded).all()


def test_statistics_on_known_data():
    log_mels = torch.stack([torch.full((3, 5), 1.0), torch.full((3, 5), 3.0)])  # (clips, mels, frames)
    log_mels[:, 2] = 7.0  # a constant bin: std floored, not zero
    stats = fit_statistics(log_mels)
    assert torch.allclose(stats.mean, torch.tensor([2.0, 2.0, 7.0]))
    assert stats.std[0] == pytest.approx(float(torch.tensor([1.0] * 5 + [3.0] * 5).std()), rel=1e-5)
    assert stats.std[2] > 0


def test_normalization_clips_at_clip_std():
    features = MelFeatures(CONFIG)
    features.statistics = fit_statistics(features.log_mel(padded(tones(4), CONFIG)))
    mean, std = features.statistics.mean, features.statistics.std
    extreme = (mean + 10 * std)[None, :, None].expand(1, -1, 4)
    assert torch.allclose(features.normalize(extreme), torch.ones(1, 1, 32, 4))


def test_state_dict_round_trip_gives_same_encoding():
    waves = padded(tones(3), CONFIG)
    features = MelFeatures(CONFIG)
    features.statistics = fit_statistics(features.log_mel(waves))
    restored = MelFeatures.from_state_dict(CONFIG, features.state_dict())
    assert torch.equal(restored.encode(waves), features.encode(waves))


def test_decode_gives_clip_length_waveforms_and_repeats():
    waves = padded(tones(2), CONFIG)
    features = MelFeatures(CONFIG)
    features.statistics = fit_statistics(features.log_mel(waves))
    out = features.decode(features.encode(waves), n_iter=8)
    assert out.shape == (2, CONFIG.clip_samples) and torch.isfinite(out).all()
    assert torch.equal(out, features.decode(features.encode(waves), n_iter=8))


def test_unfitted_features_say_so():
    with pytest.raises(RuntimeError, match="fit"):
        MelFeatures(CONFIG).encode(torch.zeros(1, CONFIG.clip_samples))


def test_images_scale_to_unit_range_and_back():
    pixels = torch.tensor([[[0, 128, 255]]], dtype=torch.uint8)
    encoded = encode_images(pixels)
    assert encoded.shape == (1, 1, 1, 3) and encoded.min() == -1 and encoded.max() == 1
    assert torch.equal(decode_images(encoded), pixels)


def spectral_convergence(reference: torch.Tensor, estimate: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:
    stft = torchaudio.transforms.Spectrogram(n_fft=n_fft, hop_length=hop, power=1)
    ref, est = stft(reference), stft(estimate)
    return (ref - est).norm(dim=(1, 2)) / ref.norm(dim=(1, 2))


def test_round_trip_on_real_fsdd_clips_stays_close(fsdd_dir):
    """mel -> Griffin-Lim -> mel on real speech: the re-encoded mels match closely and the
    waveform's spectral convergence stays within what Griffin-Lim is known to reach."""
    config = FeatureConfig(sample_rate=8000, clip_seconds=0.768, n_fft=512, hop_length=96, n_mels=64)
    files = sorted(fsdd_dir.glob("*.wav"))[::300]  # 10 clips across digits and speakers
    waves = torch.stack([normalize_level(fit_length(torch.from_numpy(soundfile.read(f, dtype="float32")[0]),
                                                    config.clip_samples)[0], "peak", -1.0, -20.0) for f in files])
    features = MelFeatures(config)
    features.statistics = fit_statistics(features.log_mel(waves))
    encoded = features.encode(waves)
    decoded = features.decode(encoded)  # the default 16 iterations
    re_encoded = features.encode(decoded)
    assert (re_encoded - encoded).abs().mean() < 0.06  # in [-1, 1] units (measured 0.051)
    assert (features.encode(features.decode(encoded, n_iter=32)) - encoded).abs().mean() < 0.05  # measured < 0.05
    assert spectral_convergence(waves, decoded, 512, 96).mean() < 0.5



def test_inverse_filterbank_matches_torchaudio_inverse_mel_scale():
    features = MelFeatures(CONFIG)
    features.statistics = fit_statistics(features.log_mel(tones(4)))
    encoded = features.encode(tones(4))
    reference = torchaudio.transforms.InverseMelScale(
        n_stft=CONFIG.n_fft // 2 + 1, n_mels=CONFIG.n_mels, sample_rate=CONFIG.sample_rate,
        f_min=CONFIG.fmin, f_max=CONFIG.mel_fmax)(features.denormalize(encoded))
    ours = features.linear_power(encoded)
    assert ours.shape == reference.shape
    assert torch.allclose(ours, reference, rtol=1e-3, atol=1e-4 * float(reference.abs().max()))


@pytest.mark.parametrize("rate, n_fft, n_mels, top", [(8000, 512, 64, "2k"), (44100, 2048, 128, "16k")])
def test_plots_label_the_mel_axis_in_hz_where_the_filterbank_peaks(rate, n_fft, n_mels, top):
    config = FeatureConfig(sample_rate=rate, n_fft=n_fft, hop_length=n_fft // 4, n_mels=n_mels)
    bank = torchaudio.functional.melscale_fbanks(n_fft // 2 + 1, config.fmin, config.mel_fmax, n_mels, rate)
    peaks_hz = bank.argmax(dim=0).double() * rate / n_fft
    centres = mel_band_centres_hz(config)
    assert torch.allclose(peaks_hz, centres, atol=rate / n_fft)  # within one STFT bin
    positions, labels = frequency_ticks(centres)
    assert labels[-1] == top and "1k" in labels
    assert min(b - a for a, b in zip(positions, positions[1:])) >= n_mels / 16  # far enough apart to read
    band_of_1k = positions[labels.index("1k")] - 0.5
    assert centres[int(band_of_1k)] <= 1000 <= centres[int(band_of_1k) + 1]
