"""The built-in synthetic voice corpus: repeatable, balanced, centred in silence, voice-like
in pitch, and the vowel labels are audible in the spectrum."""

from __future__ import annotations

import numpy as np
import pytest

from ganaudio.data.synthetic_voice import VOWELS, synthesize_voices

RATE = 8000  # what recipes/voice.yaml trains at
A, E, I, O, U = range(len(VOWELS))


@pytest.fixture(scope="module")
def corpus() -> tuple[np.ndarray, np.ndarray]:
    """100 one-second clips, shared by the tests that only look at them."""
    return synthesize_voices(100, RATE, RATE, seed=0)


def power_spectra(waves: np.ndarray, rate: int) -> tuple[np.ndarray, np.ndarray]:
    """(frequencies in Hz, power per clip and frequency)."""
    return np.fft.rfftfreq(waves.shape[1], 1 / rate), np.abs(np.fft.rfft(waves, axis=1)) ** 2


def band_share_db(waves: np.ndarray, rate: int, low_hz: float, high_hz: float) -> np.ndarray:
    """Each clip's energy between low_hz and high_hz, in dB relative to its total energy."""
    freqs, power = power_spectra(waves, rate)
    in_band = (freqs >= low_hz) & (freqs < high_hz)
    return 10 * np.log10(power[:, in_band].sum(axis=1) / power.sum(axis=1))


def spectral_envelope(waves: np.ndarray, rate: int) -> np.ndarray:
    """Log energy in 100 Hz bands up to 4 kHz, level removed: where the formants are."""
    freqs, power = power_spectra(waves, rate)
    bands = np.stack([power[:, (freqs >= low) & (freqs < low + 100)].sum(axis=1)
                      for low in range(0, 4000, 100)], axis=1)
    log_bands = np.log(bands + 1e-12)
    return log_bands - log_bands.mean(axis=1, keepdims=True)


def estimated_f0(wave: np.ndarray, rate: int) -> float:
    """Pitch of the loudest 100 ms: strongest autocorrelation peak between 60 and 400 Hz after
    centre clipping, which strips the formant ringing that can fake a pitch (Sondhi 1968)."""
    window = int(0.1 * rate)
    energy = np.convolve(wave ** 2, np.ones(window), mode="valid")
    segment = wave[int(np.argmax(energy)):][:window]
    threshold = 0.3 * np.abs(segment).max()
    clipped = np.sign(segment) * np.maximum(np.abs(segment) - threshold, 0.0)
    autocorrelation = np.correlate(clipped, clipped, mode="full")[window - 1:]
    shortest, longest = rate // 400, rate // 60
    return rate / (shortest + int(np.argmax(autocorrelation[shortest:longest])))


def test_shapes_dtypes_and_balanced_labels(corpus):
    waves, labels = corpus
    assert waves.shape == (100, RATE) and waves.dtype == np.float32
    assert labels.shape == (100,) and labels.dtype == np.int64
    assert np.bincount(labels, minlength=len(VOWELS)).tolist() == [20] * len(VOWELS)
    counts = np.bincount(synthesize_voices(12, RATE, 800, seed=0)[1], minlength=len(VOWELS))
    assert counts.sum() == 12 and counts.max() - counts.min() <= 1


def test_labels_are_shuffled_so_every_tenth_clip_mixes_vowels(corpus):
    """The dataset holds out every 10th clip as its test split: it must not be one vowel."""
    _, labels = corpus
    assert len(set(labels[9::10].tolist())) >= 3


def test_clips_are_finite_audible_and_peak_at_0_9(corpus):
    waves, _ = corpus
    assert np.isfinite(waves).all()
    np.testing.assert_allclose(np.abs(waves).max(axis=1), 0.9, rtol=1e-6)
    assert (np.sqrt((waves ** 2).mean(axis=1)) > 0.02).all()  # a voice, not a click


def test_same_seed_repeats_bit_for_bit_and_another_seed_differs():
    first = synthesize_voices(10, RATE, 4096, seed=3)
    again = synthesize_voices(10, RATE, 4096, seed=3)
    assert np.array_equal(first[0], again[0]) and np.array_equal(first[1], again[1])
    assert not np.array_equal(first[0], synthesize_voices(10, RATE, 4096, seed=4)[0])


@pytest.mark.parametrize("clip_samples", [RATE, 2000])
def test_voice_is_centred_in_silence(clip_samples):
    """Also when the clip (here 0.25 s) is shorter than a typical utterance."""
    waves, _ = synthesize_voices(30, RATE, clip_samples, seed=1)
    energy = waves.astype(np.float64) ** 2
    eighth = clip_samples // 8
    middle = energy[:, 2 * eighth:6 * eighth].sum(axis=1)
    edges = energy[:, :eighth].sum(axis=1) + energy[:, -eighth:].sum(axis=1)
    assert (middle > 10 * edges).all()
    assert (waves[:, 0] == 0).all() and (np.abs(waves[:, -1]) < 1e-3).all()


def test_vowels_are_told_apart_by_their_spectral_envelope():
    """Class-mean envelopes from one corpus name the vowels of another: the formants, not the
    speaker, carry the label (pitch and vocal-tract size vary freely within each vowel)."""
    train, train_labels = synthesize_voices(100, RATE, RATE, seed=2)
    test, test_labels = synthesize_voices(50, RATE, RATE, seed=3)
    centroids = np.stack([spectral_envelope(train[train_labels == k], RATE).mean(axis=0) for k in range(len(VOWELS))])
    distances = ((spectral_envelope(test, RATE)[:, None, :] - centroids[None]) ** 2).sum(axis=2)
    assert (distances.argmin(axis=1) == test_labels).mean() > 0.75


@pytest.mark.parametrize("rate", [8000, 16000])
def test_formants_sit_where_the_vowels_put_them(rate):
    """/i/ and /e/ have F2 near 2 kHz, /o/ and /u/ below 1 kHz; /a/ has the highest F1."""
    waves, labels = synthesize_voices(50, rate, rate // 2, seed=6)
    f2_region = band_share_db(waves, rate, 1500, 3500)
    front = np.median(f2_region[np.isin(labels, [I, E])])
    back = np.median(f2_region[np.isin(labels, [O, U])])
    assert front > back + 10
    freqs, power = power_spectra(waves, rate)
    low = freqs < 1200
    f1_centroid = (power[:, low] * freqs[low]).sum(axis=1) / power[:, low].sum(axis=1)
    assert f1_centroid[labels == A].min() > 1.3 * f1_centroid[np.isin(labels, [I, U])].max()


@pytest.mark.parametrize("rate", [8000, 16000, 22050])
def test_pitch_varies_across_clips_within_the_speaking_range(rate):
    waves, _ = synthesize_voices(20, rate, rate, seed=5)
    pitches = np.array([estimated_f0(wave, rate) for wave in waves])
    assert (pitches > 70).all() and (pitches < 300).all()
    assert pitches.max() > 1.6 * pitches.min()

