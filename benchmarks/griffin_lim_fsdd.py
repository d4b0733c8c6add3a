"""Round-trip quality of Griffin-Lim on FSDD: the ceiling every generated clip inherits.

    python benchmarks/griffin_lim_fsdd.py [--data ../shared/data/fsdd/recordings] [--clips 300]

Encodes the held-out FSDD clips (takes 0-4) with the digits recipe's features, decodes them
with 16, 32, 64 and 128 Griffin-Lim iterations, and prints against the original waveform:
spectral convergence (||S - S'|| / ||S||, lower is better; 0 is perfect), log-spectral
distance in dB, and decode time per second of audio.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch
import torchaudio

from ganaudio.config import load_recipe
from ganaudio.data import load_dataset, mel_features
from ganaudio.data.fsdd import fsdd_files
from ganaudio.data.clips import DataSummary, read_clip_files

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "fsdd" / "recordings"


def spectral_convergence_and_lsd(reference: torch.Tensor, estimate: torch.Tensor, n_fft: int, hop: int):
    stft = torchaudio.transforms.Spectrogram(n_fft=n_fft, hop_length=hop, power=2)
    ref, est = stft(reference), stft(estimate)
    convergence = (ref.sqrt() - est.sqrt()).norm(dim=(1, 2)) / ref.sqrt().norm(dim=(1, 2))
    log_ref, log_est = 10 * torch.log10(ref + 1e-8), 10 * torch.log10(est + 1e-8)
    lsd = (log_ref - log_est).pow(2).mean(dim=1).sqrt().mean(dim=1)
    return float(convergence.mean()), float(lsd.mean())


def true_phase_inverse(features, encoded: torch.Tensor, waves: torch.Tensor) -> torch.Tensor:
    """Inverse mel magnitudes with the original clips' phase: what is lost to the mel
    filterbank and normalization alone, separating it from Griffin-Lim's phase error."""
    cfg = features.config
    window = torch.hann_window(cfg.n_fft)
    phase = torch.stft(waves, cfg.n_fft, cfg.hop_length, window=window, return_complex=True).angle()
    power = features.linear_power(encoded)
    power = torch.cat([power, power[..., -1:]], dim=-1)
    return torch.istft(power.sqrt() * torch.exp(1j * phase), cfg.n_fft, cfg.hop_length, window=window,
                       length=cfg.clip_samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--clips", type=int, default=300)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    recipe = load_recipe("digits", data_root=str(args.data))
    with tempfile.TemporaryDirectory() as cache:
        os.environ["GANAUDIO_CACHE"] = cache
        train = load_dataset(recipe)  # the statistics come from the training split
    features = mel_features(recipe, train)
    test_files = [f for f in fsdd_files(recipe.data, DataSummary("fsdd")) if f.split == "test"][: args.clips]
    waves = read_clip_files(test_files, recipe.data, recipe.features, DataSummary("fsdd")).waveforms
    encoded = features.encode(waves)
    seconds = waves.numel() / recipe.features.sample_rate
    print(f"{len(waves)} held-out clips ({seconds:.0f} s of audio); torch threads {torch.get_num_threads()}; "
          f"n_fft {recipe.features.n_fft}, hop {recipe.features.hop_length}, {recipe.features.n_mels} mels, "
          f"momentum {recipe.features.griffin_lim_momentum}")
    print("mel resolution alone (InverseMelScale with the true phase, no Griffin-Lim): "
          "spectral convergence {:.3f}, log-spectral distance {:.2f} dB".format(
              *spectral_convergence_and_lsd(waves, true_phase_inverse(features, encoded, waves),
                                            recipe.features.n_fft, recipe.features.hop_length)))
    print("| iterations | spectral convergence | log-spectral distance (dB) | decode time per s of audio |")
    print("|---:|---:|---:|---:|")
    for n_iter in (16, 32, 64, 128):
        start = time.perf_counter()
        decoded = features.decode(encoded, n_iter=n_iter)
        elapsed = time.perf_counter() - start
        sc, lsd = spectral_convergence_and_lsd(waves, decoded, recipe.features.n_fft, recipe.features.hop_length)
        print(f"| {n_iter} | {sc:.3f} | {lsd:.2f} | {1000 * elapsed / seconds:.1f} ms |")


if __name__ == "__main__":
    main()
