"""Generator and critic, sized from the data's sample shape `(1, height, width)`.

The generator maps z (and a label) through a dense layer to a small grid, then doubles the
resolution `depth` times with 4x4 stride-2 transposed convolutions (the DCGAN/SpecGAN
block; the kernel is a multiple of the stride, which avoids uneven-overlap checkerboards) and
ends in tanh, so samples lie in [-1, 1] like the features. Nearest upsampling + 3x3 conv was
3.7x slower per step on 2 CPU cores for no gain we could measure at this size. Both nets run
in channels-last memory layout, which oneDNN's CPU convolutions need to be fast. The critic mirrors it with strided convolutions and no batch norm (batch norm
couples the samples in a batch and breaks the per-sample gradient penalty). With labels,
the generator embeds the class into its input and the critic is a projection critic
(Miyato and Koyama 2018): score = linear(h) + <embed(y), h>.
"""

from __future__ import annotations

import torch
from torch import nn

from ganaudio.config import ModelConfig
from ganaudio.errors import UserError


def resolve_depth(config: ModelConfig, height: int, width: int) -> int:
    """config.depth, or the number of halvings that keep both sides even and >= 4."""
    if config.depth is not None:
        if height % 2 ** config.depth or width % 2 ** config.depth:
            raise UserError(f"model.depth: {config.depth} halvings do not divide the sample size {height}x{width}")
        return config.depth
    depth = 0
    while height % 2 == 0 and width % 2 == 0 and min(height, width) // 2 >= 4:
        height, width, depth = height // 2, width // 2, depth + 1
    return depth


def channels(config: ModelConfig, level: int) -> int:
    """Channels at `level` halvings below full resolution."""
    return min(config.width * 2 ** level, config.max_width)


class Generator(nn.Module):
    """(z (batch, latent_dim), labels (batch,) or None) -> (batch, 1, height, width) in [-1, 1]."""

    def __init__(self, config: ModelConfig, sample_shape: tuple[int, int, int], num_classes: int):
        super().__init__()
        out_channels, height, width = sample_shape
        self.depth = resolve_depth(config, height, width)
        self.latent_dim = config.latent_dim
        self.num_classes = num_classes
        self.base = (channels(config, self.depth), height // 2 ** self.depth, width // 2 ** self.depth)
        self.embed = nn.Embedding(num_classes, config.latent_dim) if num_classes else None
        in_features = config.latent_dim * (2 if num_classes else 1)
        self.dense = nn.Sequential(
            nn.Linear(in_features, self.base[0] * self.base[1] * self.base[2]), nn.LeakyReLU(0.2))
        pad = config.kernel_size // 2
        blocks = []
        for level in range(self.depth - 1, -1, -1):
            blocks += [nn.ConvTranspose2d(channels(config, level + 1), channels(config, level), 4, stride=2, padding=1),
                       nn.BatchNorm2d(channels(config, level)), nn.LeakyReLU(0.2)]
        self.blocks = nn.Sequential(*blocks)
        self.to_image = nn.Sequential(nn.Conv2d(channels(config, 0), out_channels, config.kernel_size, padding=pad),
                                      nn.Tanh())

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.embed is not None:
            z = torch.cat([z, self.embed(labels)], dim=1)
        grid = self.dense(z).view(-1, *self.base).contiguous(memory_format=torch.channels_last)
        return self.to_image(self.blocks(grid))


class Critic(nn.Module):
    """((batch, 1, height, width), labels or None) -> scores (batch,); higher means more real."""

    def __init__(self, config: ModelConfig, sample_shape: tuple[int, int, int], num_classes: int):
        super().__init__()
        in_channels, height, width = sample_shape
        self.depth = resolve_depth(config, height, width)
        pad = config.kernel_size // 2
        layers = [nn.Conv2d(in_channels, channels(config, 0), config.kernel_size, padding=pad), nn.LeakyReLU(0.2)]
        for level in range(self.depth):
            layers += [nn.Conv2d(channels(config, level), channels(config, level + 1), config.kernel_size,
                                 stride=2, padding=pad), nn.LeakyReLU(0.2)]
        self.features = nn.Sequential(*layers, nn.Flatten())
        feature_size = channels(config, self.depth) * (height // 2 ** self.depth) * (width // 2 ** self.depth)
        self.score = nn.Linear(feature_size, 1)
        self.project = nn.Embedding(num_classes, feature_size) if num_classes else None

    def forward(self, samples: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = self.features(samples.contiguous(memory_format=torch.channels_last))
        score = self.score(h).squeeze(1)
        if self.project is not None:
            score = score + (self.project(labels) * h).sum(dim=1)
        return score


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
