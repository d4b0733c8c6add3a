"""Do a one-shot model's clips start at their attack and carry the real clips' high frequencies?

    OMP_WAIT_POLICY=PASSIVE python benchmarks/one_shots.py --checkpoint RUN --data ../shared/data/drumkits

Per label, beside the real held-out clips (read as the model's recipe reads them, so aligned the
same way): where the attack is (the first sample above -20 dB of the clip's peak, in ms from the
clip's start) and the share of the clip's energy above --split-hz (4 kHz: hi-hats, cymbals and
snares live there, kicks and toms do not). Generated clips are --n per label, through the
model's own vocoder, as `ganaudio synth` writes them.
"""

from __future__ import annotations

import argparse

import torch

from ganaudio.config import with_data_root
from ganaudio.data import read_audio_clips
from ganaudio.synth import Synthesizer


def attack_ms(waveforms: torch.Tensor, sample_rate: int) -> torch.Tensor:
    loud = waveforms.abs() > 0.1 * waveforms.abs().amax(dim=1, keepdim=True)
    return loud.float().argmax(dim=1) * 1000.0 / sample_rate


def share_above(waveforms: torch.Tensor, sample_rate: int, split_hz: float, n_fft: int) -> torch.Tensor:
    power = torch.stft(waveforms, n_fft, n_fft // 4, window=torch.hann_window(n_fft), return_complex=True).abs() ** 2
    freqs = torch.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    return power[:, freqs > split_hz].sum(dim=(1, 2)) / power.sum(dim=(1, 2)).clamp_min(1e-12)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, help="run folder or checkpoint of a labelled audio model")
    parser.add_argument("--data", required=True, help="the folder it was trained on")
    parser.add_argument("--n", type=int, default=20, help="generated clips per label")
    parser.add_argument("--split-hz", type=float, default=4000.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    synth = Synthesizer.from_checkpoint(args.checkpoint)
    recipe = with_data_root(synth.recipe, args.data)
    rate, n_fft = recipe.features.sample_rate, recipe.features.n_fft
    clips = read_audio_clips(recipe)
    held_out = torch.tensor([s == "test" for s in clips.splits])
    print(f"{args.checkpoint}: {rate} Hz, {recipe.features.clip_seconds:g} s clips, align {recipe.data.align}; "
          f"{args.n} generated clips per label against the {int(held_out.sum())} real held-out clips")
    print(f"| label | real clips | attack at, real (median ms) | generated | energy above {args.split_hz / 1000:g} kHz, "
          f"real (mean) | generated |")
    print("|---|---:|---:|---:|---:|---:|")
    for index, label in enumerate(clips.label_names):
        real = clips.waveforms[held_out & (clips.labels == index)]
        made = synth.generate(args.n, labels=label, seed=args.seed + index).samples
        real_share = f"{float(share_above(real, rate, args.split_hz, n_fft).mean()):.1%}" if len(real) else "-"
        real_attack = f"{float(attack_ms(real, rate).median()):.1f}" if len(real) else "-"
        print(f"| {label} | {len(real)} | {real_attack} | {float(attack_ms(made, rate).median()):.1f} | {real_share} | "
              f"{float(share_above(made, rate, args.split_hz, n_fft).mean()):.1%} |", flush=True)


if __name__ == "__main__":
    main()
