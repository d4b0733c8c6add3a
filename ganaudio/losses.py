"""Plain loss functions for the critic and the generator.

Each returns a dict of named scalar tensors: `total` is what is backpropagated, the rest is
logged (`critic/wdist`, `critic/gp`, ...). A new loss is one more pair of functions here and
one more name in `train.loss` (config.py).
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

CriticFunction = Callable[[torch.Tensor], torch.Tensor]  # samples -> critic scores (labels bound in)


def gradient_penalty(critic: CriticFunction, real: torch.Tensor, fake: torch.Tensor,
                     mix: torch.Tensor | None = None) -> torch.Tensor:
    """WGAN-GP (Gulrajani et al. 2017): (||grad critic(x_hat)|| - 1)^2 on random
    interpolates of real and fake samples, computed in fp32 even under autocast. `mix`
    (n, 1, 1, 1) are the interpolation weights in [0, 1], uniform random when not given."""
    alpha = torch.rand(real.shape[0], 1, 1, 1, device=real.device) if mix is None else mix
    mixed = (alpha * real.float() + (1 - alpha) * fake.float()).requires_grad_(True)
    with torch.autocast(device_type=real.device.type, enabled=False):
        scores = critic(mixed)
        (gradients,) = torch.autograd.grad(scores.sum(), mixed, create_graph=True)
    return (gradients.flatten(1).norm(dim=1) - 1).pow(2).mean()


def r1_penalty(critic: CriticFunction, real: torch.Tensor) -> torch.Tensor:
    """R1 (Mescheder et al. 2018): squared gradient norm of the critic on real samples only;
    it keeps the critic smooth where the data is, and needs no fake samples."""
    real = real.float().detach().requires_grad_(True)
    with torch.autocast(device_type=real.device.type, enabled=False):
        (gradients,) = torch.autograd.grad(critic(real).sum(), real, create_graph=True)
    return gradients.flatten(1).pow(2).sum(dim=1).mean()


def critic_loss(loss: str, real_scores: torch.Tensor, fake_scores: torch.Tensor) -> dict[str, torch.Tensor]:
    """The critic's loss without regularisers; `critic/wdist` is the Wasserstein estimate."""
    wdist = real_scores.mean() - fake_scores.mean()
    if loss == "wgan-gp":
        total = -wdist
    elif loss == "hinge":
        total = F.relu(1 - real_scores).mean() + F.relu(1 + fake_scores).mean()
    else:
        raise ValueError(f"unknown loss {loss!r}")
    return {"total": total, "critic/wdist": wdist.detach()}


def generator_loss(loss: str, fake_scores: torch.Tensor) -> dict[str, torch.Tensor]:
    """Both WGAN and hinge generators maximise the critic's score of fakes."""
    if loss not in ("wgan-gp", "hinge"):
        raise ValueError(f"unknown loss {loss!r}")
    total = -fake_scores.mean()
    return {"total": total, "gen/adv": total.detach()}


def mode_seeking_penalty(fakes: torch.Tensor, latents: torch.Tensor, eps: float = 1e-5) -> dict[str, torch.Tensor]:
    """MSGAN's term (Mao et al. 2019), written from the paper: the first and second halves of
    `fakes` share their labels; each pair's ratio is mean |fake_a - fake_b| / mean |z_a - z_b|,
    and `total` = 1 / (the pairs' mean ratio), which falls as pairs of latents make more
    different samples. In fp32 even under autocast, like the penalties. `gen/mode_ratio` logs
    the mean ratio."""
    fakes, latents, half = fakes.float(), latents.float(), len(fakes) // 2
    image = (fakes[:half] - fakes[half:2 * half]).abs().flatten(1).mean(dim=1)
    latent = (latents[:half] - latents[half:2 * half]).abs().flatten(1).mean(dim=1)
    ratio = (image / latent).mean()
    return {"total": 1 / (ratio + eps), "gen/mode_ratio": ratio.detach()}
