"""Data source `synthetic-voice`: a built-in, offline corpus of sung-vowel-like clips.

Source-filter synthesis, as in classic formant synthesizers (Klatt 1980): a glottal pulse
train whose pitch follows a contour with vibrato and jitter, plus a little breath noise,
through a cascade of formant resonators for one of five vowels, then lip radiation.
Speakers differ in pitch range and vocal-tract length (all formants scaled together). The
corpus is a pure function of its seed, so `recipes/voice.yaml` trains on the same data on
every machine, with no download.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import lfilter

VOWELS: tuple[str, ...] = ("a", "e", "i", "o", "u")
# (frequency Hz, bandwidth Hz) of F1-F4 for an average adult male (Peterson & Barney 1952,
# bandwidths after Klatt 1980).
FORMANTS = {
    "a": ((730, 90), (1090, 110), (2440, 170), (3400, 250)),
    "e": ((530, 60), (1840, 100), (2480, 170), (3500, 250)),
    "i": ((270, 60), (2290, 100), (3010, 180), (3700, 250)),
    "o": ((570, 70), (840, 80), (2410, 170), (3400, 250)),
    "u": ((300, 65), (870, 80), (2240, 170), (3300, 250)),
}
NYQUIST_MARGIN = 0.45  # formants above this fraction of the sample rate would alias: dropped


def synthesize_voices(num_clips: int, sample_rate: int, clip_samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(waveforms float32 (num_clips, clip_samples) peaking at 0.9, labels int64 indexing VOWELS).

    Classes are balanced (clip i is vowel i % 5); everything else is drawn from `seed`.
    """
    rng = np.random.default_rng(seed)
    labels = np.arange(num_clips, dtype=np.int64) % len(VOWELS)
    waveforms = np.zeros((num_clips, clip_samples), dtype=np.float32)
    for index, label in enumerate(labels):
        waveforms[index] = _one_clip(VOWELS[label], sample_rate, clip_samples, rng)
    return waveforms, labels


def _one_clip(vowel: str, sample_rate: int, clip_samples: int, rng: np.random.Generator) -> np.ndarray:
    speaker_f0 = rng.uniform(85.0, 250.0)  # speaker's typical pitch
    tract_scale = rng.uniform(0.88, 1.2)  # shorter tract -> higher formants
    seconds = rng.uniform(0.3, 0.8)
    length = min(int(seconds * sample_rate), clip_samples)
    f0 = _pitch_contour(speaker_f0, length, sample_rate, rng)
    source = _glottal_source(f0, sample_rate, rng)
    source += rng.normal(0.0, 0.02, length) * np.abs(source).max()  # breathiness
    voiced = _formant_filter(source, vowel, tract_scale, sample_rate, rng)
    voiced = np.diff(voiced, prepend=0.0)  # lip radiation: +6 dB/octave
    voiced *= _envelope(length, sample_rate, rng)
    clip = np.zeros(clip_samples)
    offset = (clip_samples - length) // 2 + int(rng.integers(-1, 2) * 0.05 * (clip_samples - length))
    clip[offset: offset + length] = voiced
    return (0.9 * clip / max(np.abs(clip).max(), 1e-9)).astype(np.float32)


def _pitch_contour(speaker_f0: float, length: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Rise-then-fall intonation with declination, vibrato, and slow random drift (Hz per sample)."""
    t = np.arange(length) / sample_rate
    progress = t / max(t[-1], 1e-9)
    intonation = 1.0 + rng.uniform(0.0, 0.15) * np.sin(np.pi * progress) - rng.uniform(0.0, 0.12) * progress
    vibrato = 1.0 + rng.uniform(0.0, 0.02) * np.sin(2 * np.pi * rng.uniform(4.5, 6.5) * t + rng.uniform(0, 2 * np.pi))
    return speaker_f0 * intonation * vibrato


def _glottal_source(f0: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Rosenberg-style pulses: each period opens smoothly, closes quickly, then stays shut.

    Phase is accumulated from the instantaneous F0 so pitch glides smoothly; jitter
    perturbs each period's length by about 1%.
    """
    period_index = np.floor(np.cumsum(f0 / sample_rate)).astype(int)
    jitter = 1.0 + rng.normal(0.0, 0.01, period_index[-1] + 2)
    phase = np.mod(np.cumsum(f0 * jitter[period_index] / sample_rate), 1.0)
    open_phase, closing = rng.uniform(0.35, 0.5), rng.uniform(0.12, 0.2)
    pulse = np.where(phase < open_phase, 0.5 * (1 - np.cos(np.pi * phase / open_phase)), 0.0)
    falling = (phase >= open_phase) & (phase < open_phase + closing)
    pulse[falling] = np.cos(0.5 * np.pi * (phase[falling] - open_phase) / closing)
    return pulse - pulse.mean()


def _formant_filter(source: np.ndarray, vowel: str, tract_scale: float, sample_rate: int,
                    rng: np.random.Generator) -> np.ndarray:
    """Cascade of two-pole resonators, one per formant below the Nyquist margin."""
    out = source
    for frequency, bandwidth in FORMANTS[vowel]:
        frequency = frequency * tract_scale * rng.uniform(0.96, 1.04)
        if frequency >= NYQUIST_MARGIN * sample_rate:
            continue
        radius = np.exp(-np.pi * bandwidth / sample_rate)
        theta = 2 * np.pi * frequency / sample_rate
        a1, a2 = -2 * radius * np.cos(theta), radius ** 2
        out = lfilter([1 + a1 + a2], [1, a1, a2], out)  # unit gain at 0 Hz
    return out


def _envelope(length: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Smooth onset and offset (raised-cosine ramps of 20-80 ms)."""
    envelope = np.ones(length)
    for ramp_seconds, side in ((rng.uniform(0.02, 0.08), "on"), (rng.uniform(0.03, 0.08), "off")):
        ramp = min(int(ramp_seconds * sample_rate), length // 2)
        shape = 0.5 * (1 - np.cos(np.pi * np.arange(ramp) / max(ramp, 1)))
        if side == "on":
            envelope[:ramp] *= shape
        else:
            envelope[length - ramp:] *= shape[::-1]
    return envelope
