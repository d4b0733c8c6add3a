"""Generator and critic, sized from the data's sample shape `(1, height, width)`.

The generator maps z (and a label) through a dense layer to a small grid, then doubles the
resolution `depth` times with 4x4 stride-2 transposed convolutions (the DCGAN/SpecGAN
block; the kernel is a multiple of the stride, which avoids uneven-overlap checkerboards) and
ends in tanh, so samples lie in [-1, 1] like the features. Nearest upsampling + 3x3 conv was
3.7x slower per step on 2 CPU cores for no gain we could measure at this size. Both nets run
in channels-last memory layout, which oneDNN's CPU convolutions need to be fast. The critic mirrors it with strided convolutions and no batch norm (batch norm
couples the samples in a batch and breaks the per-sample gradient penalty); `model.minibatch_std`
lets its last block see how varied each small group of samples is (ProGAN; StyleGAN2 uses it
with the same R1 penalty). With labels,
the generator embeds the class into its input and the critic is a projection critic
(Miyato and Koyama 2018): score = linear(h) + <embed(y), h>.

`model.conv: 1d` builds the same two networks over time only, with the mel bins as channels
(the layout of TTS mel decoders): every layer mixes the whole spectrum of a frame, so a
harmonic stack is one learned pattern rather than a texture to assemble from 3x3 patches.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ganaudio.config import ModelConfig
from ganaudio.errors import UserError


def resolve_depth(config: ModelConfig, height: int, width: int) -> int:
    """config.depth, or the number of halvings that keep the resampled sides even and >= 4.

    2-D networks halve height and width; 1-D networks (mel bins as channels) only time."""
    sides = (width,) if config.conv == "1d" else (height, width)
    if config.depth is not None:
        if any(side % 2 ** config.depth for side in sides):
            raise UserError(f"model.depth: {config.depth} halvings do not divide the sample size {height}x{width}")
        return config.depth
    depth = 0
    while all(side % 2 == 0 for side in sides) and min(sides) // 2 >= 4:
        sides, depth = tuple(side // 2 for side in sides), depth + 1
    return depth


def channels(config: ModelConfig, level: int) -> int:
    """Channels at `level` halvings below full resolution."""
    return min(config.width * 2 ** level, config.max_width)


def layers_for(config: ModelConfig) -> tuple[type[nn.Module], type[nn.Module], type[nn.Module]]:
    """(convolution, transposed convolution, batch norm) for 2-D or 1-D networks."""
    if config.conv == "1d":
        return nn.Conv1d, nn.ConvTranspose1d, nn.BatchNorm1d
    return nn.Conv2d, nn.ConvTranspose2d, nn.BatchNorm2d


class Generator(nn.Module):
    """(z (batch, latent_dim), labels (batch,) or None) -> (batch, 1, height, width) in [-1, 1]."""

    def __init__(self, config: ModelConfig, sample_shape: tuple[int, int, int], num_classes: int):
        super().__init__()
        out_channels, height, width = sample_shape
        conv, conv_transposed, norm = layers_for(config)
        self.one_d = config.conv == "1d"
        self.depth = resolve_depth(config, height, width)
        self.latent_dim = config.latent_dim
        self.num_classes = num_classes
        base_size = (width // 2 ** self.depth,) if self.one_d else (height // 2 ** self.depth, width // 2 ** self.depth)
        self.base = (channels(config, self.depth), *base_size)
        self.embed = nn.Embedding(num_classes, config.latent_dim) if num_classes else None
        if self.embed is not None:
            nn.init.normal_(self.embed.weight, std=config.label_embedding_std)
        in_features = config.latent_dim * (2 if num_classes else 1)
        self.dense = nn.Sequential(nn.Linear(in_features, math.prod(self.base)), nn.LeakyReLU(0.2))
        pad = config.kernel_size // 2
        blocks = []
        for level in range(self.depth - 1, -1, -1):
            blocks += [conv_transposed(channels(config, level + 1), channels(config, level), 4, stride=2, padding=1),
                       norm(channels(config, level)), nn.LeakyReLU(0.2)]
        self.blocks = nn.Sequential(*blocks)
        # 1-D: the last layer makes every mel bin of a frame at once, as one output channel each.
        self.to_image = nn.Sequential(conv(channels(config, 0), height * out_channels if self.one_d else out_channels,
                                           config.kernel_size, padding=pad), nn.Tanh())

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.embed is not None:
            z = torch.cat([z, self.embed(labels)], dim=1)
        grid = self.dense(z).view(-1, *self.base)
        if self.one_d:
            return self.to_image(self.blocks(grid)).unsqueeze(1)
        return self.to_image(self.blocks(grid.contiguous(memory_format=torch.channels_last)))


class MinibatchStd(nn.Module):
    """Appends one channel: the standard deviation across each group of `group` consecutive
    samples, averaged over features and positions (ProGAN's minibatch standard deviation,
    written here as it is a few lines). Consecutive, so when the critic scores real and fake
    samples in one batch (real first) no group mixes them, given a batch the group divides;
    the trainer checks that (`check_minibatch_groups`). A smaller batch (a preview) uses the
    largest group that divides it."""

    def __init__(self, group: int):
        super().__init__()
        self.group = group

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        batch, group = h.shape[0], min(self.group, h.shape[0])
        while batch % group:
            group -= 1
        spread = (h.reshape(batch // group, group, *h.shape[1:]).var(dim=1, unbiased=False) + 1e-8).sqrt()
        feature = spread.mean(dim=tuple(range(1, h.dim())), keepdim=True)  # (batch / group, 1, ...)
        out = torch.cat([h, feature.repeat_interleave(group, dim=0).expand(-1, 1, *h.shape[2:])], dim=1)
        return out.contiguous(memory_format=torch.channels_last) if h.dim() == 4 else out


def check_minibatch_groups(config: ModelConfig, local_batch: int) -> None:
    """Each process's batch must split into whole groups, or a group would mix real and fake."""
    if config.minibatch_std and local_batch % config.minibatch_std:
        raise UserError(f"model.minibatch_std: groups of {config.minibatch_std} do not divide the batch of "
                        f"{local_batch} each process trains on (train.batch_size over the processes)")


class Critic(nn.Module):
    """((batch, 1, height, width), labels or None) -> scores (batch,); higher means more real."""

    def __init__(self, config: ModelConfig, sample_shape: tuple[int, int, int], num_classes: int):
        super().__init__()
        in_channels, height, width = sample_shape
        conv, _, _ = layers_for(config)
        self.one_d = config.conv == "1d"
        self.depth = resolve_depth(config, height, width)
        pad = config.kernel_size // 2
        layers = [conv(height * in_channels if self.one_d else in_channels, channels(config, 0), config.kernel_size,
                       padding=pad), nn.LeakyReLU(0.2)]
        for level in range(self.depth):
            last = level == self.depth - 1 and config.minibatch_std > 0
            if last:  # the last block sees how varied the batch is
                layers.append(MinibatchStd(config.minibatch_std))
            layers += [conv(channels(config, level) + last, channels(config, level + 1), config.kernel_size,
                            stride=2, padding=pad), nn.LeakyReLU(0.2)]
        self.features = nn.Sequential(*layers, nn.Flatten())
        area = width // 2 ** self.depth if self.one_d else (height // 2 ** self.depth) * (width // 2 ** self.depth)
        feature_size = channels(config, self.depth) * area
        self.score = nn.Linear(feature_size, 1)
        self.project = nn.Embedding(num_classes, feature_size) if num_classes else None
        if self.project is not None:
            # Scaled like self.score's weights. nn.Embedding's default N(0, 1) made the label
            # term sqrt(feature_size) times louder than the rest of the critic, and the generator
            # answered with one sample per label whatever z was (spread over z 0.05 against 0.31
            # for real MNIST digits after 600 steps).
            nn.init.uniform_(self.project.weight, -feature_size ** -0.5, feature_size ** -0.5)

    def forward(self, samples: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.one_d:
            h = self.features(samples.flatten(1, 2))  # (batch, 1, mels, frames) -> mels as channels
        else:
            h = self.features(samples.contiguous(memory_format=torch.channels_last))
        score = self.score(h).squeeze(1)
        if self.project is not None:
            score = score + (self.project(labels) * h).sum(dim=1)
        return score


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


MAX_PARAMETERS = 500_000_000  # generator + critic; the bundled digits recipe has 4.3M


def check_model_size(config: ModelConfig, sample_shape: tuple[int, int, int], num_classes: int) -> None:
    """Refuse networks too large to be meant, counting them on the meta device (no memory)."""
    with torch.device("meta"):
        size = count_parameters(Generator(config, sample_shape, num_classes)) + \
            count_parameters(Critic(config, sample_shape, num_classes))
    if size > MAX_PARAMETERS:
        raise UserError(f"model: the generator and critic would have {size:,} parameters together "
                        f"(at most {MAX_PARAMETERS:,}); lower model.width or model.max_width")
