"""Where does onset alignment (`data.align: onset`) put each file's start, against where its sound
starts? For every audio file under --data, at each --rate: the first onset from librosa's
defaults and from ganaudio's settings (audio.first_onset), minus the first sample above -40 dB of
the file's peak. Negative is before the sound (the pre-roll keeps that), positive cuts the attack.

    OMP_NUM_THREADS=1 python benchmarks/onsets.py --data ../shared/data/drumkits --rate 22050 44100
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np
import torch

from ganaudio.audio import first_onset, read_audio, resample
from ganaudio.data.folder import find_audio_files


def librosa_default_onset(waveform: torch.Tensor, rate: int) -> int | None:
    import librosa

    onsets = librosa.onset.onset_detect(y=waveform.numpy(), sr=rate, units="samples", backtrack=True)
    return int(onsets[0]) if len(onsets) else None


def first_audible(waveform: torch.Tensor) -> int:
    return int(torch.nonzero(waveform.abs() > 0.01 * waveform.abs().max()).flatten()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--rate", type=int, nargs="+", default=[22050, 44100])
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # librosa warns that its default frame is longer than short files
    files, _ = find_audio_files(args.data)
    print(f"{len(files)} files under {args.data}")
    print("| rate | onset detector | files without an onset | onset minus first audible sample: min | median | max |")
    print("|---:|---|---:|---:|---:|---:|")
    clips = [read_audio(path) for path in files]
    for rate in args.rate:
        waveforms = [resample(torch.from_numpy(samples), file_rate, rate) for samples, file_rate in clips]
        for name, detect in (("librosa defaults", librosa_default_onset), ("ganaudio (audio.first_onset)", first_onset)):
            found = [(detect(w, rate), first_audible(w)) for w in waveforms]
            offsets = np.array([1000 * (onset - audible) / rate for onset, audible in found if onset is not None])
            missing = sum(onset is None for onset, _ in found)
            print(f"| {rate} | {name} | {missing} | {offsets.min():.1f} ms | {np.median(offsets):.1f} ms | "
                  f"{offsets.max():.1f} ms |", flush=True)


if __name__ == "__main__":
    main()
