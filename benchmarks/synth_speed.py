"""Synthesis speed on CPU: clips per second and times faster than real time, split into the
generator, the spectrum (the inverse mel scale, and for a learned vocoder its network) and
Griffin-Lim.

    OMP_WAIT_POLICY=PASSIVE python benchmarks/synth_speed.py [--checkpoint PATH] [--clips 1000] \
        [--vocoder griffin-lim PATH ...]

Uses the bundled digits model unless --checkpoint is given, generates `--clips` clips in
batches of `--batch` (best of --repeats for each phase), for each decoder of --vocoder (default:
Griffin-Lim and the vocoder stored with the generator, if any) at its own Griffin-Lim
iterations and at each --iters value.
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from ganaudio.synth import Synthesizer
from ganaudio.vocoder import LearnedVocoder


def best_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint")
    parser.add_argument("--clips", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=50, help="clips per call (Synthesizer uses 50 for Griffin-Lim)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--iters", type=int, nargs="*", default=[])
    parser.add_argument("--vocoder", nargs="*", help="griffin-lim and/or vocoder files (default: see above)")
    args = parser.parse_args()
    synth = Synthesizer.from_checkpoint(args.checkpoint)
    choices = args.vocoder or (["griffin-lim", None] if isinstance(synth.vocoder, LearnedVocoder) else ["griffin-lim"])
    clip_seconds = synth.recipe.features.clip_samples / synth.sample_rate
    audio_seconds = args.clips * clip_seconds
    print(f"{args.clips} clips of {clip_seconds:.3f} s ({audio_seconds:.0f} s of audio), batches of {args.batch}; "
          f"torch threads {torch.get_num_threads()}; OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}")
    z = torch.randn(args.clips, synth.generator.latent_dim, generator=torch.Generator().manual_seed(0))
    labels = torch.arange(args.clips) % max(len(synth.labels), 1)

    @torch.no_grad()
    def generate() -> torch.Tensor:
        return torch.cat([synth.generator(zc, lc if synth.labels else None)
                          for zc, lc in zip(z.split(args.batch), labels.split(args.batch))])

    features = generate()
    generator_s = best_seconds(generate, args.repeats)
    print("| decoder | Griffin-Lim iterations | generator | spectrum | Griffin-Lim | total | clips/s | x real time |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for choice in choices:
        vocoder = Synthesizer.from_checkpoint(args.checkpoint, vocoder=choice).vocoder
        if isinstance(vocoder, LearnedVocoder):
            spectrum = vocoder.power  # network, then mel matching
        else:
            spectrum = lambda mels: vocoder.features.match_mels(vocoder.features.linear_power(mels), mels)  # noqa: E731
        own = vocoder.n_iter or synth.recipe.features.griffin_lim_iters
        for iters in dict.fromkeys([own, *args.iters]):
            mel_s = best_seconds(lambda: [spectrum(c) for c in features.split(args.batch)], args.repeats)
            power = [spectrum(c) for c in features.split(args.batch)]
            gl_s = best_seconds(lambda: [vocoder.features.griffin_lim(p, n_iter=iters) for p in power],
                                args.repeats)
            total = generator_s + mel_s + gl_s
            name = "learned" if isinstance(vocoder, LearnedVocoder) else "Griffin-Lim"
            print(f"| {name} | {iters} | {generator_s:.2f} s | {mel_s:.2f} s | {gl_s:.2f} s | {total:.2f} s | "
                  f"{args.clips / total:.0f} | {audio_seconds / total:.0f}x |", flush=True)


if __name__ == "__main__":
    main()
