"""Differentiable augmentation of the critic's inputs (DiffAugment, Zhao et al. 2020).

With 2,700 training clips the critic learns the training set by heart and its gradients stop
helping the generator. Showing it randomly shifted and cut-out versions of every input, real
and fake alike, in both the critic and the generator steps, keeps it honest without leaking
the augmentation into what the generator makes: the generator's gradients flow through the
same transforms.

Only transforms that keep a spectrogram a plausible spectrogram: a shift along time (a word
said a little earlier or later) and a cutout (a masked time-frequency patch, as SpecAugment).
No frequency shift or flip: pitch and formants carry the label. The ops are a few lines of
indexing; the DiffAugment reference code is not a package, so they are written here.
"""

from __future__ import annotations

import torch

from ganaudio.runtime import Shard

SILENCE = -1.0  # the floor of a normalized log-mel (and an image's background): shifted-in frames
MASK = 0.0  # the mean of normalized log-mels: what a cutout patch is set to (as SpecAugment)


class DiffAugment:
    """Random time shift and cutout for (n, 1, height, width) batches, drawn from `rng` so a
    resumed run repeats them (as this process's slice of the global batch's draws, see
    runtime.Shard). `shift` is the largest shift as a fraction of the width; `cutout` the patch
    side as a fraction of height and width; 0 turns either off."""

    def __init__(self, shift: float, cutout: float, rng: torch.Generator, shard: Shard = Shard()):
        self.shift, self.cutout, self.rng, self.shard = shift, cutout, rng, shard

    def draw_integers(self, low: int, high: int, count: int, *shape: int) -> torch.Tensor:
        return self.shard.draw(lambda size: torch.randint(low, high, size, generator=self.rng), count, *shape)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.shift > 0:
            x = self.time_shift(x)
        if self.cutout > 0:
            x = self.cut_out(x)
        return x

    def time_shift(self, x: torch.Tensor) -> torch.Tensor:
        """Shift each sample by its own whole number of frames, filling with silence."""
        n, _, _, width = x.shape
        reach = max(1, int(width * self.shift + 0.5))
        offsets = self.draw_integers(-reach, reach + 1, n, 1, 1, 1).to(x.device)
        padded = torch.nn.functional.pad(x, (reach, reach), value=SILENCE)
        columns = torch.arange(width, device=x.device).view(1, 1, 1, width) + reach - offsets
        return padded.gather(3, columns.expand(n, x.shape[1], x.shape[2], width))

    def cut_out(self, x: torch.Tensor) -> torch.Tensor:
        """Set one patch per sample (cutout * height by cutout * width, anywhere, clipped at the
        edges) to MASK."""
        n, _, height, width = x.shape
        patch_h, patch_w = max(1, int(height * self.cutout + 0.5)), max(1, int(width * self.cutout + 0.5))
        top = self.draw_integers(0, height, n, 1, 1).to(x.device) - patch_h // 2
        left = self.draw_integers(0, width, n, 1, 1).to(x.device) - patch_w // 2
        rows = torch.arange(height, device=x.device).view(1, height, 1) - top
        columns = torch.arange(width, device=x.device).view(1, 1, width) - left
        inside = (rows >= 0) & (rows < patch_h) & (columns >= 0) & (columns < patch_w)
        return torch.where(inside.unsqueeze(1), torch.full_like(x, MASK), x)
