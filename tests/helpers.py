"""Tiny generated audio for tests: sine bursts written as real WAV files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile


def tone(seconds: float, sample_rate: int, freq: float = 440.0, amplitude: float = 0.5,
         channels: int = 1) -> np.ndarray:
    """A sine burst with silence around it: (samples,) or (samples, channels)."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    signal = amplitude * np.sin(2 * np.pi * freq * t) * np.hanning(len(t))
    signal = signal.astype(np.float32)
    return np.stack([signal] * channels, axis=1) if channels > 1 else signal


def write_wav(path: Path, samples: np.ndarray, sample_rate: int = 8000, subtype: str = "PCM_16") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, samples, sample_rate, subtype=subtype)
    return path
