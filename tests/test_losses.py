"""Loss functions on tiny critics with known gradients."""

from __future__ import annotations

import pytest
import torch

from ganaudio.losses import critic_loss, generator_loss, gradient_penalty, mode_seeking_penalty, r1_penalty


def test_gradient_penalty_is_zero_for_unit_gradient_and_positive_otherwise():
    real, fake = torch.randn(8, 1, 2, 2), torch.randn(8, 1, 2, 2)
    unit = lambda x: x.flatten(1)[:, 0]  # noqa: E731  gradient norm exactly 1 everywhere
    assert float(gradient_penalty(unit, real, fake)) == 0.0
    steep = lambda x: 3 * x.flatten(1)[:, 0]  # noqa: E731  gradient norm 3 -> (3 - 1)^2
    assert float(gradient_penalty(steep, real, fake)) == 4.0


def test_r1_is_squared_gradient_norm_on_real():
    real = torch.randn(5, 1, 2, 2)
    assert torch.isclose(r1_penalty(lambda x: 2 * x.flatten(1).sum(1), real), torch.tensor(16.0))


def test_wasserstein_and_hinge_losses():
    real, fake = torch.tensor([2.0, 2.0]), torch.tensor([-1.0, 0.0])
    wgan = critic_loss("wgan-gp", real, fake)
    assert float(wgan["critic/wdist"]) == 2.5 and float(wgan["total"]) == -2.5
    hinge = critic_loss("hinge", real, fake)
    assert float(hinge["total"]) == 0.0 + 0.5  # real beyond the margin; fakes at -1 and 0
    assert float(generator_loss("hinge", fake)["total"]) == 0.5


def test_mode_seeking_term_is_latent_over_sample_distance_of_the_pairs():
    latents = torch.cat([torch.zeros(3, 8), torch.full((3, 8), 2.0)])  # pairs 2 apart in every entry
    close = torch.cat([torch.zeros(3, 1, 4, 4), torch.full((3, 1, 4, 4), 0.5)])
    far = torch.cat([torch.zeros(3, 1, 4, 4), torch.full((3, 1, 4, 4), 1.0)])
    near_term = mode_seeking_penalty(close, latents)
    assert float(near_term["gen/mode_ratio"]) == 0.25
    assert float(near_term["total"]) == pytest.approx(4.0, rel=1e-3)
    # More different samples from the same latents: a smaller term, so the generator is pushed apart.
    assert float(mode_seeking_penalty(far, latents)["total"]) == pytest.approx(2.0, rel=1e-3)
