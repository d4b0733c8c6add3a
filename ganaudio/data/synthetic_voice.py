"""One data source: the built-in synthetic-voice corpus (`data.source: synthetic-voice`), vowels
spoken by made-up speakers, used by recipes/voice.yaml.

Where it sits in the data flow: `SyntheticVoiceSource.read` (ganaudio.data.Source) calls
`synthesize_voices` for the waveforms and vowel labels, level-normalizes them and holds out a
test split; `load_dataset` turns them into log-mel features as for the other sources. It is what a new user
trains a GAN on when they have no data, so it has to sound like voices, and the labels have
to be audible: the five vowels differ by their formants, as in speech.

How: source-filter synthesis as in classic formant synthesizers (Klatt 1980). A glottal
pulse train with a spoken pitch contour, vibrato, jitter and shimmer, plus breath noise,
excites a cascade of formant resonators tuned to one vowel; lip radiation tilts the result
up by 6 dB/octave. Speakers differ in pitch and vocal-tract length. Everything random comes
from one `numpy.random.Generator` seeded by the caller, so the corpus is a pure function of
its arguments (bit-identical from run to run), with nothing to download.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from scipy.signal import sosfilt

from ganaudio.audio import normalize_level
from ganaudio.config import Recipe
from ganaudio.data.clips import SPLITS, Clips, DataSummary

VOWELS: tuple[str, ...] = ("a", "e", "i", "o", "u")

# F1-F4 in Hz of an average adult male, one row per entry of VOWELS (/ɑ ɛ i ɔ u/): F1-F3 from
# Peterson & Barney (1952), F4 roughly as measured by Hillenbrand et al. (1995).
FORMANT_HZ = np.array([
    [730.0, 1090.0, 2440.0, 3690.0],
    [530.0, 1840.0, 2480.0, 3680.0],
    [270.0, 2290.0, 3010.0, 3660.0],
    [570.0, 840.0, 2410.0, 3490.0],
    [300.0, 870.0, 2240.0, 3360.0],
])
# Higher formants are damped more (typical values of Klatt 1980).
BANDWIDTH_HZ = np.array([70.0, 100.0, 160.0, 250.0])

SPEAKER_F0_HZ = (85.0, 250.0)  # from a low male voice to a high female one
TRACT_SCALE = (0.85, 1.2)  # formant multiplier: a shorter vocal tract has higher formants
UTTERANCE_SECONDS = (0.3, 0.8)  # a sustained syllable
# A digital resonator above Nyquist rings at its alias, a spurious peak below it, and one just
# under Nyquist merges with its mirror image: formants above this fraction of the rate are
# left out of the cascade (their lift of the lower frequencies is kept, see _higher_pole_correction).
NYQUIST_FRACTION = 0.45
# Sum of 1/F^2 (Hz^-2) over the poles of a uniform tube above F4: (2k - 1) * 500 Hz for k >= 5.
HIGHER_POLES_INVERSE_SQUARE = sum(1.0 / ((2 * k - 1) * 500.0) ** 2 for k in range(5, 1000))
JITTER = 0.01  # relative cycle-to-cycle change of the glottal period, typical of healthy voices
SHIMMER = 0.05  # relative cycle-to-cycle change of the pulse amplitude
PEAK = 0.9


TEST_EVERY = 10  # every 10th clip is held out as the test split


class SyntheticVoiceSource:
    """The synthetic-voice source (see ganaudio.data.Source): generated, so it reads no files."""

    labelled = True

    def __init__(self, recipe: Recipe):
        self.recipe = recipe

    def files(self) -> list[Path]:
        return []

    def read(self) -> Clips:
        data, features = self.recipe.data, self.recipe.features
        waveforms, labels = synthesize_voices(data.num_clips, features.sample_rate, features.clip_samples, data.seed)
        waveforms = torch.stack([normalize_level(torch.from_numpy(w), data.normalize, data.peak_db, data.rms_db)
                                 for w in waveforms])
        splits = ["test" if i % TEST_EVERY == TEST_EVERY - 1 else "train" for i in range(len(labels))]
        summary = DataSummary(source=data.source, found=len(labels), used=len(labels),
                              label_counts={v: int((labels == i).sum()) for i, v in enumerate(VOWELS)},
                              split_counts={s: splits.count(s) for s in SPLITS})
        return Clips(waveforms=waveforms, labels=torch.from_numpy(labels), label_names=list(VOWELS),
                     splits=splits, summary=summary)


def synthesize_voices(num_clips: int, sample_rate: int, clip_samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(waveforms float32 (num_clips, clip_samples) peaking at 0.9, labels int64 indexing VOWELS).

    Each clip is one vowel from a new random speaker, centred in silence. The labels are a
    seeded shuffle of a balanced list, so that every n-th clip (a held-out split, say) mixes
    the vowels too.
    """
    rng = np.random.default_rng(seed)
    labels = _balanced_labels(num_clips, rng)
    waveforms = np.zeros((num_clips, clip_samples), dtype=np.float32)
    for index, vowel in enumerate(labels):
        waveforms[index] = _one_clip(int(vowel), sample_rate, clip_samples, rng)
    return waveforms, labels


def _balanced_labels(num_clips: int, rng: np.random.Generator) -> np.ndarray:
    """Vowel indices whose counts differ by at most one, in random order."""
    return rng.permutation(np.arange(num_clips, dtype=np.int64) % len(VOWELS))


def _one_clip(vowel: int, sample_rate: int, clip_samples: int, rng: np.random.Generator) -> np.ndarray:
    """One utterance of the vowel by a new random speaker, in silence, peaking at 0.9."""
    speaker_f0, tract_scale = _speaker(rng)
    length = _utterance_samples(sample_rate, clip_samples, rng)
    flow = _glottal_flow(_pitch_contour(speaker_f0, length, sample_rate, rng), sample_rate, rng)
    # Lip radiation is a first difference; it commutes with the (linear) resonators, so it is
    # applied to the source, where breath noise joins it as in Klatt's synthesizer.
    excitation = np.diff(flow, prepend=0.0) + _aspiration(flow, rng)
    excitation *= _amplitude_envelope(length, sample_rate, rng)
    clip = _place_near_centre(excitation, clip_samples, rng)
    # Filtering the whole clip lets the resonances ring out into the silence after the voice.
    clip = sosfilt(_vocal_tract(vowel, tract_scale, sample_rate, rng), clip)
    return (PEAK * clip / max(np.abs(clip).max(), 1e-12)).astype(np.float32)


def _speaker(rng: np.random.Generator) -> tuple[float, float]:
    """(mean F0 in Hz, formant scale) of a random speaker.

    Both come from one "voice height": high voices (women, children) mostly have shorter
    vocal tracts too, so pitch and formants rise together, with some spread, as in real speech.
    """
    height = rng.uniform()
    low, high = SPEAKER_F0_HZ
    f0 = low * (high / low) ** height  # uniform in musical pitch, not in Hz
    scale = 0.9 + 0.22 * height + rng.normal(0.0, 0.04)
    return f0, float(np.clip(scale, *TRACT_SCALE))


def _utterance_samples(sample_rate: int, clip_samples: int, rng: np.random.Generator) -> int:
    """Length of the voiced part: 0.3-0.8 s, scaled down in short clips so silence always frames it."""
    shortest = min(UTTERANCE_SECONDS[0] * sample_rate, 0.4 * clip_samples)
    longest = min(UTTERANCE_SECONDS[1] * sample_rate, 0.8 * clip_samples)
    return max(1, int(rng.uniform(shortest, longest)))


def _pitch_contour(speaker_f0: float, length: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """F0 in Hz for every sample: a rise then a fall below the start (the declination of a
    spoken phrase), with a gentle vibrato so that long vowels do not sound mechanical."""
    seconds = np.arange(length) / sample_rate
    progress = np.linspace(0.0, 1.0, length)
    intonation = rng.uniform(1.0, 3.0) * np.sin(np.pi * progress) - rng.uniform(1.0, 4.0) * progress
    vibrato = rng.uniform(0.05, 0.3) * np.sin(2 * np.pi * rng.uniform(4.5, 6.5) * seconds + rng.uniform(0, 2 * np.pi))
    return speaker_f0 * 2.0 ** ((intonation + vibrato) / 12)


def _glottal_flow(f0: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Air flow through the glottis: one Rosenberg-Klatt pulse x^2 (1 - x) per period.

    The flow rises smoothly while the folds open and drops abruptly as they close; that
    closure is what excites the vocal tract. Periods follow the accumulated phase of the
    smooth F0 contour, then jitter stretches each one and shimmer scales each pulse: the
    cycle-to-cycle irregularity that keeps a synthetic voice from sounding buzzy.
    """
    phase = np.cumsum(f0) / sample_rate  # in glottal cycles
    cycle = np.arange(int(phase[-1]) + 3)  # a few spare cycles: jitter can make the train short
    periods = sample_rate / np.interp(cycle, phase, f0) * (1 + rng.normal(0.0, JITTER, len(cycle)))
    starts = np.concatenate(([0.0], np.cumsum(periods)))
    samples = np.arange(len(f0))
    period_of_sample = np.searchsorted(starts, samples, side="right") - 1
    open_quotient = rng.uniform(0.45, 0.7)  # share of each cycle the folds are apart: breathy when large
    opening = (samples - starts[period_of_sample]) / (periods[period_of_sample] * open_quotient)
    pulse = np.where(opening < 1.0, 6.75 * opening ** 2 * (1.0 - opening), 0.0)  # peak 1 at x = 2/3
    amplitude = 1 + rng.normal(0.0, SHIMMER, len(cycle))
    flow = pulse * amplitude[period_of_sample]
    closure_slope = 6.75 * amplitude / (open_quotient * periods)  # per sample, just before closing
    _band_limit_corners(flow, starts[:-1] + open_quotient * periods, closure_slope)
    return flow


def _band_limit_corners(flow: np.ndarray, corners: np.ndarray, slope_changes: np.ndarray) -> None:
    """Round the flow's corners (where its slope jumps, between samples) with a two-sample
    polyBLAMP residual (Esqueda et al. 2016), in place.

    Sampled as is, each glottal closure is a sharp corner whose harmonics above Nyquist fold
    back as inharmonic hiss; the residual is the band-limited rounding of that corner.
    """
    before = np.floor(corners).astype(int)
    for sample in (before, before + 1):
        offset = sample - corners  # in (-1, 1]: where the sample lies relative to the corner
        residual = np.where(offset < 0, (1 + offset) ** 3, (1 - offset) ** 3) / 6
        inside = (sample >= 0) & (sample < len(flow))
        flow[sample[inside]] += (slope_changes * residual)[inside]


def _aspiration(flow: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Breath noise, louder while the glottis is open, some 15-30 dB below the voicing."""
    level = 10 ** (rng.uniform(-30.0, -15.0) / 20) * np.diff(flow, prepend=0.0).std()
    return rng.normal(0.0, level, len(flow)) * (0.3 + flow)


def _amplitude_envelope(length: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Raised-cosine onset (20-80 ms) and offset (50-150 ms) around a loudness that sinks a few dB
    over the utterance, so the voice neither clicks on and off nor holds a flat level."""
    envelope = 10 ** (-rng.uniform(2.0, 6.0) * np.linspace(0.0, 1.0, length) / 20)
    onset = _rising_ramp(rng.uniform(0.02, 0.08), sample_rate, length)
    offset = _rising_ramp(rng.uniform(0.05, 0.15), sample_rate, length)[::-1]
    envelope[:len(onset)] *= onset
    envelope[length - len(offset):] *= offset
    return envelope


def _rising_ramp(seconds: float, sample_rate: int, length: int) -> np.ndarray:
    """Half a raised cosine from 0 towards 1, at most half the utterance long."""
    ramp = min(int(seconds * sample_rate), length // 2)
    return 0.5 - 0.5 * np.cos(np.pi * np.arange(ramp) / max(ramp, 1))


def _place_near_centre(utterance: np.ndarray, clip_samples: int, rng: np.random.Generator) -> np.ndarray:
    """The utterance in a silent clip, centred up to 10% of the spare room off the middle."""
    spare = clip_samples - len(utterance)
    start = spare // 2 + int(round(rng.uniform(-0.1, 0.1) * spare))
    clip = np.zeros(clip_samples)
    clip[start:start + len(utterance)] = utterance
    return clip


def _vocal_tract(vowel: int, tract_scale: float, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Second-order sections for scipy's sosfilt: one two-pole resonator per formant, in cascade.

    Formants are the vowel's, scaled to the speaker's tract and moved up to 5% at random
    (no two tokens of a vowel are alike); bandwidths vary by -20% to +25%. Each resonator has
    unit gain at 0 Hz, so the formant peaks set the spectral envelope, as in a real tract.
    """
    frequency = FORMANT_HZ[vowel] * tract_scale * rng.uniform(0.95, 1.05, FORMANT_HZ.shape[1])
    bandwidth = BANDWIDTH_HZ * rng.uniform(0.8, 1.25, len(BANDWIDTH_HZ))
    below_nyquist = frequency < NYQUIST_FRACTION * sample_rate
    radius = np.exp(-np.pi * bandwidth[below_nyquist] / sample_rate)
    a1 = -2 * radius * np.cos(2 * np.pi * frequency[below_nyquist] / sample_rate)
    a2 = radius ** 2
    zero = np.zeros_like(a1)
    resonators = np.column_stack([1 + a1 + a2, zero, zero, np.ones_like(a1), a1, a2])
    return np.vstack([resonators, _higher_pole_correction(frequency[~below_nyquist], tract_scale, sample_rate)])


def _higher_pole_correction(dropped_hz: np.ndarray, tract_scale: float, sample_rate: int) -> np.ndarray:
    """One FIR section giving back the treble that the poles left out of the cascade would add.

    A real tract resonates above F4 too (and here formants near Nyquist are dropped as well);
    each such pole lifts the frequencies f below it by about 1 + (f/F)^2. Without them the
    cascade sounds muffled, its F3 over 10 dB weaker than in Peterson & Barney's recordings;
    this gives back about 7 dB there. The symmetric taps [-g, 1 + 2g, -g] have gain
    1 + 4g sin^2(pi f / rate), about 1 + g (2 pi f / rate)^2: g is chosen so that the lift
    is the same in Hz at every sample rate.
    """
    curvature = np.sum(1.0 / dropped_hz ** 2) + HIGHER_POLES_INVERSE_SQUARE / tract_scale ** 2
    g = curvature * (sample_rate / (2 * np.pi)) ** 2
    return np.array([[-g, 1 + 2 * g, -g, 1.0, 0.0, 0.0]])
