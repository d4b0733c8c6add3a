"""Generator and critic: the right shapes for every supported size, labels matter."""

from __future__ import annotations

import pytest
import torch

from ganaudio.config import ModelConfig
from ganaudio.errors import UserError
from ganaudio.models import Critic, Generator, check_minibatch_groups, resolve_depth

SMALL = ModelConfig(latent_dim=16, width=4, max_width=32)


@pytest.mark.parametrize("shape, depth", [((1, 64, 128), 4), ((1, 128, 128), 5), ((1, 28, 28), 2),
                                          ((1, 64, 64), 4), ((1, 32, 16), 2)])
@pytest.mark.parametrize("num_classes", [0, 10])
def test_output_shapes(shape, depth, num_classes):
    generator, critic = Generator(SMALL, shape, num_classes), Critic(SMALL, shape, num_classes)
    assert generator.depth == depth
    labels = torch.arange(3) % max(num_classes, 1) if num_classes else None
    samples = generator(torch.randn(3, 16), labels)
    assert samples.shape == (3, *shape) and samples.abs().max() <= 1
    assert critic(samples, labels).shape == (3,)


@pytest.mark.parametrize("shape, depth", [((1, 64, 64), 4), ((1, 128, 128), 5), ((1, 80, 24), 2)])
def test_one_d_networks_halve_time_only_and_keep_the_shape(shape, depth):
    config = ModelConfig(latent_dim=16, width=8, max_width=32, conv="1d")
    generator, critic = Generator(config, shape, 10), Critic(config, shape, 10)
    assert generator.depth == depth and generator.base[1:] == (shape[2] // 2 ** depth,)
    labels = torch.tensor([0, 9])
    samples = generator(torch.randn(2, 16), labels)
    assert samples.shape == (2, *shape) and samples.abs().max() <= 1
    assert critic(samples, labels).shape == (2,)
    assert not any(isinstance(m, torch.nn.Conv2d) for m in (*generator.modules(), *critic.modules()))


def test_explicit_depth_must_divide_the_size():
    assert resolve_depth(ModelConfig(depth=2), 64, 64) == 2
    with pytest.raises(UserError, match="model.depth"):
        resolve_depth(ModelConfig(depth=3), 28, 28)


def test_critic_has_no_batch_norm():
    critic = Critic(SMALL, (1, 64, 64), 10)
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in critic.modules())


def test_labels_change_generator_output_and_critic_score():
    torch.manual_seed(0)
    generator, critic = Generator(SMALL, (1, 28, 28), 10).eval(), Critic(SMALL, (1, 28, 28), 10)
    z = torch.randn(1, 16).repeat(2, 1)
    two = generator(z, torch.tensor([1, 7]))
    assert not torch.allclose(two[0], two[1])
    scores = critic(two[:1].repeat(2, 1, 1, 1), torch.tensor([1, 7]))
    assert scores[0] != scores[1]


def test_noise_not_the_label_dominates_a_fresh_generator():
    # A label embedding as loud as z made generators ignore z (one sample per label).
    torch.manual_seed(0)
    generator = Generator(ModelConfig(latent_dim=32, width=8, max_width=32), (1, 28, 28), 10).eval()
    with torch.no_grad():
        over_z = generator(torch.randn(64, 32), torch.full((64,), 3)).std(dim=0).mean()
        over_labels = generator(torch.randn(1, 32).repeat(10, 1), torch.arange(10)).std(dim=0).mean()
    assert over_z > 2 * over_labels


@pytest.mark.parametrize("conv, shape", [("2d", (1, 28, 28)), ("1d", (1, 16, 32))])
def test_minibatch_std_lets_the_critic_see_a_repeated_sample(conv, shape):
    """With model.minibatch_std the score of a sample depends on the others in its group: a
    batch of one sample repeated scores otherwise than the same sample among different ones.
    Without it, each score is the sample's alone."""
    torch.manual_seed(0)
    batch = torch.rand(8, *shape) * 2 - 1
    repeated = batch[:1].repeat(8, 1, 1, 1)
    for group, depends in ((4, True), (0, False)):
        critic = Critic(ModelConfig(latent_dim=16, width=4, max_width=32, conv=conv, minibatch_std=group), shape, 0)
        alone, among_others = critic(repeated)[0], critic(batch)[0]
        assert (not torch.isclose(alone, among_others, atol=1e-6)) == depends
    grouped = Critic(ModelConfig(latent_dim=16, width=4, max_width=32, conv=conv, minibatch_std=4), shape, 0)
    assert grouped(batch[:3]).shape == (3,)  # a batch the group does not divide: smaller groups
    # Real and fake in one call, real first (as the critic step scores them): no group mixes
    # them, so the fakes score as they do alone, and a repeated fake stays visible.
    both = grouped(torch.cat([batch, repeated]))
    assert torch.allclose(both[8:], grouped(repeated), atol=1e-6) and torch.allclose(both[:8], grouped(batch), atol=1e-6)


def test_minibatch_groups_must_divide_each_process_batch():
    check_minibatch_groups(ModelConfig(minibatch_std=4), 32)
    check_minibatch_groups(ModelConfig(minibatch_std=0), 31)
    with pytest.raises(UserError, match=r"^model.minibatch_std: groups of 4 do not divide the batch of 30"):
        check_minibatch_groups(ModelConfig(minibatch_std=4), 30)
    with pytest.raises(UserError, match="model.minibatch_std"):
        ModelConfig(minibatch_std=1).validate("model")
