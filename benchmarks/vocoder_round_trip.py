"""Round trip of held-out real clips through each decoder: features -> decoder -> waveform,
against the original clip.

    OMP_WAIT_POLICY=PASSIVE python benchmarks/vocoder_round_trip.py --recipe digits \
        --data ../shared/data/fsdd/recordings --vocoder runs/digits-vocoder [--clips 150]

Rows: Griffin-Lim from the pseudo-inverse of the mels, as the fallback decoded before issue 17
and as it does now (matched to the mels: MelFeatures.match_mels), and each learned vocoder, each at every Griffin-Lim iteration count of --iters, and
Griffin-Lim from the clip's true STFT magnitude (what a perfect magnitude would give; the phase is still estimated).
Figures: PESQ (the `pesq` package; narrow-band at 8 kHz, wide-band on a 16 kHz copy for
recipes at 16 kHz or more), the multi-resolution STFT distance and the log-mel distance
(evaluate.round_trip_distances), the attack (`--attack`, for one-shots: how far the first sample
above -20 dB of the clip's peak moved, and the decoded clip's peak level in the 10 ms from the
real attack against the real clip's, in dB) and decoding speed in x real time on this machine's
threads.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from ganaudio.audio import resample, write_wav
from ganaudio.config import load_recipe
from ganaudio.data import load_dataset, read_audio_clips, resolve_clip_seconds
from ganaudio.evaluate import fixed_subset, round_trip_distances
from ganaudio.features import MelFeatures
from ganaudio.plots import spectrogram_grid
from ganaudio.vocoder import GriffinLimVocoder, load_vocoder, read_vocoder, vocode
from one_shots import attack_ms  # benchmarks/one_shots.py: the first sample above -20 dB of the peak

LISTEN_CLIPS = 4
ATTACK_WINDOW_S = 0.010  # the attack's level is the peak within 10 ms of the real attack


def pesq_scores(decoded: torch.Tensor, real: torch.Tensor, rate: int) -> tuple[float, int]:
    """Mean PESQ over the clips it can score (narrow-band at 8 kHz, else wide-band at 16 kHz),
    and how many it could not (no speech found)."""
    from pesq import PesqError, pesq

    mode, target = ("nb", 8000) if rate == 8000 else ("wb", 16000)
    if rate != target:
        decoded, real = resample(decoded, rate, target), resample(real, rate, target)
    scores, failed = [], 0
    for made, true in zip(decoded.numpy().astype(np.float64), real.numpy().astype(np.float64)):
        try:
            scores.append(pesq(target, true, made, mode))
        except PesqError:
            failed += 1
    return (float(np.mean(scores)) if scores else float("nan")), failed


def attack_figures(decoded: torch.Tensor, real: torch.Tensor, rate: int) -> str:
    """Median attack shift (ms) and median attack level, decoded against real (dB)."""
    shift = (attack_ms(decoded, rate) - attack_ms(real, rate)).abs().median()
    start = (attack_ms(real, rate) * rate / 1000).long()
    window = int(ATTACK_WINDOW_S * rate)
    levels = [20 * torch.log10(d[s:s + window].abs().max().clamp_min(1e-9) / r[s:s + window].abs().max().clamp_min(1e-9))
              for d, r, s in zip(decoded, real, start.tolist())]
    return f" {float(shift):.1f} | {float(torch.stack(levels).median()):+.1f} |"


class TrueMagnitude:
    """Griffin-Lim from the clips' own STFT power: needs the clips, so it is a reference row only."""

    def __init__(self, features: MelFeatures, clips: torch.Tensor, n_iter: int):
        self.features, self.clips, self.n_iter = features, clips, n_iter

    def decode_all(self) -> torch.Tensor:
        return torch.cat([self.features.griffin_lim(self.features.power_spectrogram(chunk), self.n_iter)
                          for chunk in self.clips.split(50)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="digits")
    parser.add_argument("--data", required=True)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE")
    parser.add_argument("--vocoder", action="append", default=[], metavar="PATH",
                        help="a vocoder checkpoint or run folder (repeatable)")
    parser.add_argument("--iters", type=int, nargs="+", default=[16, 32, 64],
                        help="Griffin-Lim iterations of the fallback's and the learned vocoders' rows")
    parser.add_argument("--clips", type=int, default=150)
    parser.add_argument("--skip", type=int, default=0,
                        help="leave out the first N held-out clips of the fixed order (those design choices were "
                             "made on: 150 for FSDD; a vocoder run's evaluation uses the first vocoder.eval_clips)")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--attack", action="store_true", help="also the attack's shift and level (one-shots)")
    parser.add_argument("--listen", metavar="DIR", help="write the first 4 clips of the real row and every "
                                                         "decoder's as DIR/<clip>-<row>.wav, and a spectrogram grid")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    recipe = resolve_clip_seconds(load_recipe(args.recipe, args.overrides, data_root=args.data))
    features = MelFeatures.from_state_dict(recipe.features, load_dataset(recipe).feature_state)
    clips = read_audio_clips(recipe)
    heldout = clips.waveforms[torch.tensor([split == "test" for split in clips.splits])]
    real = heldout[fixed_subset(len(heldout), len(heldout))[args.skip:args.skip + args.clips]]
    mels = features.encode(real)
    rate = recipe.features.sample_rate
    seconds = real.shape[0] * real.shape[1] / rate
    print(f"{recipe.name}: {len(real)} held-out clips (from #{args.skip} of the fixed order) of {real.shape[1] / rate:.3f} s at {rate} Hz, "
          f"{torch.get_num_threads()} threads")
    rows: list[tuple[str, object]] = [
        (f"Griffin-Lim {iters} from the pseudo-inverse, no mel matching (the fallback before issue 17)",
         lambda iters=iters: features.griffin_lim(features.linear_power(mels), iters)) for iters in args.iters]
    rows += [
        (f"Griffin-Lim {iters} from the pseudo-inverse matched to the mels (fallback)",
         lambda iters=iters: vocode(GriffinLimVocoder(features, iters), mels)) for iters in args.iters]
    for path in args.vocoder:
        payload = read_vocoder(path)
        for iters in args.iters:
            vocoder = load_vocoder(payload, features, path, n_iter=iters)
            rows.append((f"{path} (step {payload['step']}), Griffin-Lim {iters}",
                         lambda vocoder=vocoder: vocode(vocoder, mels)))
    for iters in (16, 64):
        rows.append((f"Griffin-Lim {iters} from the true magnitude (reference)",
                     TrueMagnitude(features, real, iters).decode_all))
    pesq_name = "PESQ-NB" if rate == 8000 else "PESQ-WB (16 kHz copy)"
    attack_head = " attack shift (median ms) | attack level (median dB) |" if args.attack else ""
    print(f"| decoder | {pesq_name} | multi-resolution STFT distance | log-mel distance |{attack_head} x real time |")
    print("|---|---:|---:|---:|" + ("---:|---:|" if args.attack else "") + "---:|")
    heard = {"real": real[:LISTEN_CLIPS]}
    for name, decode in rows:
        started = time.perf_counter()
        decoded = decode()
        heard[name] = decoded[:LISTEN_CLIPS]
        speed = seconds / (time.perf_counter() - started)
        score, failed = pesq_scores(decoded, real, rate)
        distances = round_trip_distances(decoded, real, features)
        note = f" ({failed} clips unscored)" if failed else ""
        attack = attack_figures(decoded, real, rate) if args.attack else ""
        print(f"| {name} | {score:.2f}{note} | {distances['stft_distance']:.3f} | "
              f"{distances['log_mel_distance']:.3f} |{attack} {speed:.0f} |", flush=True)


    if args.listen:
        write_listening_set(Path(args.listen), heard, features)


def write_listening_set(folder: Path, heard: dict[str, torch.Tensor], features: MelFeatures) -> None:
    """<clip>-<row number>.wav for each row, a legend, and spectrograms: rows down, clips across."""
    folder.mkdir(parents=True, exist_ok=True)
    rate = features.config.sample_rate
    for row, (name, clips) in enumerate(heard.items()):
        for index, clip in enumerate(clips):
            write_wav(folder / f"clip{index}-row{row}.wav", clip, rate)
    (folder / "rows.txt").write_text("".join(f"row{row}: {name}\n" for row, name in enumerate(heard)))
    grid = torch.cat([features.encode(clips) for clips in heard.values()])
    titles = [f"row{row} clip{index}" for row, clips in enumerate(heard.values()) for index in range(len(clips))]
    spectrogram_grid(grid, folder / "spectrograms.png", features.config, titles=titles, columns=LISTEN_CLIPS)
    print(f"wrote {folder}")


if __name__ == "__main__":
    main()
