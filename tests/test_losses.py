"""Loss functions on tiny critics with known gradients."""

from __future__ import annotations

import torch

from ganaudio.losses import critic_loss, generator_loss, gradient_penalty, r1_penalty


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
