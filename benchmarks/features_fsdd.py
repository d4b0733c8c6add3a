"""Feature extraction for all 3,000 FSDD clips: ganaudio's batched path against a per-file
librosa loop with the same parameters, measured side by side in one run.

    python benchmarks/features_fsdd.py [--data ../shared/data/fsdd/recordings] [--threads 2]

Three figures, each as a time and a ratio:
  1. mel features of already-loaded clips: torch batched vs a per-clip
     `librosa.feature.melspectrogram` loop (the step the batching speeds up);
  2. the whole path from files (read, resample, level, crop, features) cold: ganaudio's
     `load_dataset` with an empty cache vs soundfile + librosa per file;
  3. a cached `load_dataset`, the cost every later run pays.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import librosa
import numpy as np
import soundfile
import torch

from ganaudio.audio import fit_length, normalize_level
from ganaudio.config import load_recipe
from ganaudio.data import load_dataset
from ganaudio.features import LOG_FLOOR, MelFeatures

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "fsdd" / "recordings"


def librosa_log_mel(waveform: np.ndarray, features) -> np.ndarray:
    mel = librosa.feature.melspectrogram(
        y=waveform, sr=features.sample_rate, n_fft=features.n_fft, hop_length=features.hop_length,
        n_mels=features.n_mels, fmin=features.fmin, fmax=features.mel_fmax, power=2.0, htk=True, norm=None,
        center=True, pad_mode="reflect")
    return np.log(mel[:, : features.frames] + LOG_FLOOR)


def librosa_from_file(path: Path, recipe) -> np.ndarray:
    """The per-file path a user would write with librosa: load at the rate, level, crop, mel."""
    f, d = recipe.features, recipe.data
    samples, _ = librosa.load(path, sr=f.sample_rate, mono=True)
    clip, _ = fit_length(torch.from_numpy(samples), f.clip_samples)
    clip = normalize_level(clip, d.normalize, d.peak_db, d.rms_db).numpy()
    return librosa_log_mel(clip, f)


def timed(fn, repeats: int = 1):
    """(result, best wall time of `repeats` runs): the best run is the least disturbed by
    whatever else this shared machine is doing."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return result, best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--threads", type=int, default=2, help="torch threads (this machine has 2 cores)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    recipe = load_recipe("digits", data_root=str(args.data))
    files = sorted(args.data.glob("*.wav"))
    print(f"{len(files)} FSDD files; torch threads {torch.get_num_threads()}; "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}; features {recipe.features}")

    with tempfile.TemporaryDirectory() as cache:
        os.environ["GANAUDIO_CACHE"] = cache
        dataset, cold = timed(lambda: load_dataset(recipe))
        _, cached = timed(lambda: load_dataset(recipe))
    librosa_from_file(files[0], recipe)  # numba compiles librosa's kernels on first use: not timed
    _, librosa_cold = timed(lambda: [librosa_from_file(p, recipe) for p in files])

    waves = torch.stack([normalize_level(fit_length(torch.from_numpy(soundfile.read(p, dtype="float32")[0]),
                                                    recipe.features.clip_samples)[0], "peak", -1.0, -20.0)
                         for p in files])
    features = MelFeatures(recipe.features)
    features.log_mel(waves[:8])  # build the transforms once, as a long-lived object would
    ours, batched = timed(lambda: features.log_mel(waves), repeats=3)
    theirs, looped = timed(lambda: np.stack([librosa_log_mel(w, recipe.features) for w in waves.numpy()]),
                           repeats=3)
    gap = float((ours - torch.from_numpy(theirs)).abs().max())

    print(f"1. mel features of {len(files)} loaded clips: ganaudio batched {batched:.3f} s, "
          f"librosa loop {looped:.3f} s -> {looped / batched:.1f}x faster (max |log-mel diff| {gap:.2e})")
    print(f"2. from files, cold: ganaudio load_dataset {cold:.2f} s, librosa per file {librosa_cold:.2f} s "
          f"-> {librosa_cold / cold:.1f}x faster")
    print(f"3. cached load_dataset: {cached * 1000:.0f} ms ({len(dataset)} train samples of {dataset.sample_shape})")


if __name__ == "__main__":
    main()
