"""The built-in synthetic voice corpus: repeatable, balanced, centred, and the vowels differ."""

from __future__ import annotations

import numpy as np
import pytest

from ganaudio.data.synthetic_voice import VOWELS, synthesize_voices


def test_shape_dtype_balance_and_range():
    waves, labels = synthesize_voices(50, 8000, 8192, seed=0)
    assert waves.shape == (50, 8192) and waves.dtype == np.float32 and labels.dtype == np.int64
    assert np.bincount(labels).tolist() == [10] * len(VOWELS)
    assert np.isfinite(waves).all() and np.abs(waves).max() <= 1.0
    assert (np.abs(waves).max(axis=1) > 0.5).all()  # none silent


def test_same_seed_repeats_other_seed_differs():
    first, _ = synthesize_voices(10, 8000, 4096, seed=3)
    assert np.array_equal(first, synthesize_voices(10, 8000, 4096, seed=3)[0])
    assert not np.array_equal(first, synthesize_voices(10, 8000, 4096, seed=4)[0])


def test_sound_is_centred():
    waves, _ = synthesize_voices(20, 8000, 8192, seed=1)
    energy = waves ** 2
    middle = energy[:, 2048:6144].sum(axis=1)
    edges = energy[:, :1024].sum(axis=1) + energy[:, -1024:].sum(axis=1)
    assert (middle > 20 * edges).all()


def band_log_spectra(waves: np.ndarray) -> np.ndarray:
    """Log energy in 40 equal bands, normalised per clip: a crude spectral envelope."""
    spectrum = np.abs(np.fft.rfft(waves, axis=1)) ** 2
    bands = np.log(np.stack([b.sum(axis=1) for b in np.array_split(spectrum, 40, axis=1)], axis=1) + 1e-9)
    return bands - bands.mean(axis=1, keepdims=True)


def test_vowels_are_told_apart_by_their_spectral_envelope():
    """Nearest class centroid (fitted on other clips) names the vowel of most clips: the
    formants, not just the pitch, carry the label."""
    train, train_labels = synthesize_voices(200, 8000, 8192, seed=2)
    test, test_labels = synthesize_voices(100, 8000, 8192, seed=3)
    centroids = np.stack([band_log_spectra(train[train_labels == k]).mean(axis=0) for k in range(len(VOWELS))])
    distances = ((band_log_spectra(test)[:, None, :] - centroids[None]) ** 2).sum(axis=2)
    accuracy = (distances.argmin(axis=1) == test_labels).mean()
    assert accuracy > 0.7


@pytest.mark.parametrize("rate", [8000, 16000, 22050])
def test_pitch_varies_within_speech_range(rate):
    waves, _ = synthesize_voices(15, rate, rate, seed=5)
    pitches = []
    for wave in waves:
        voiced = wave[np.abs(wave) > 0.05 * np.abs(wave).max()]
        ac = np.correlate(voiced[:2048], voiced[:2048], mode="full")[2047:]
        lo, hi = rate // 320, rate // 70
        pitches.append(rate / (lo + int(np.argmax(ac[lo:hi]))))
    assert 70 < min(pitches) and max(pitches) < 320
    assert max(pitches) - min(pitches) > 40
