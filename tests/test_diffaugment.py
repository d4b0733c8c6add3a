"""DiffAugment keeps shapes and gradients, moves only along time, and repeats from its RNG."""

from __future__ import annotations

import torch

from ganaudio.data import load_dataset
from ganaudio.diffaugment import MASK, SILENCE, DiffAugment
from ganaudio.train import Trainer
from tests.test_train import tiny_voice


def augment(shift=0.0, cutout=0.0, seed=0):
    return DiffAugment(shift, cutout, torch.Generator().manual_seed(seed))


def test_shapes_and_gradients_are_kept():
    x = torch.randn(6, 1, 8, 16, requires_grad=True)
    y = augment(0.25, 0.5)(x)
    assert y.shape == x.shape
    y.pow(2).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    # every input value the output still shows gets its gradient; shifted-out and masked ones none
    assert ((x.grad != 0).sum(dim=(1, 2, 3)) < 8 * 16).any()


def test_time_shift_moves_whole_frames_along_time_and_fills_with_silence():
    x = torch.arange(16.0).view(1, 1, 1, 16).expand(32, 1, 4, 16).contiguous()
    y = augment(shift=0.25)(x)
    for sample in y:
        rows = sample[0]
        assert torch.equal(rows, rows[:1].expand_as(rows))  # every mel bin moved together: no frequency shift
        kept = rows[0][rows[0] != SILENCE]
        assert torch.equal(kept, torch.arange(float(kept[0]), float(kept[0]) + len(kept)))  # order kept
        assert len(kept) >= 12  # at most 4 of 16 frames shifted out
    assert len({tuple(s[0, 0].tolist()) for s in y}) > 3  # offsets differ per sample


def test_cutout_masks_one_patch_per_sample():
    y = augment(cutout=0.5)(torch.ones(10, 1, 8, 8))
    masked = (y == MASK).sum(dim=(1, 2, 3))
    assert ((masked > 0) & (masked <= 4 * 4)).all() and (masked == 4 * 4).any()  # 4x4, clipped at edges
    assert ((y == 1) | (y == MASK)).all()


def test_off_is_the_identity_and_the_rng_repeats_it():
    x = torch.randn(4, 1, 8, 16)
    assert torch.equal(augment()(x), x)
    assert torch.equal(augment(0.2, 0.3, seed=5)(x), augment(0.2, 0.3, seed=5)(x))
    assert not torch.equal(augment(0.2, 0.3, seed=5)(x), augment(0.2, 0.3, seed=6)(x))


def test_training_with_diffaugment_stays_finite_and_repeats_from_the_seed(tmp_path):
    recipe = tiny_voice("train.diffaugment_shift=0.125", "train.diffaugment_cutout=0.25")
    dataset = load_dataset(recipe)
    trainer = Trainer(recipe, dataset, tmp_path / "a")
    metrics = [trainer.train_step() for _ in range(3)]
    assert (trainer.train_step.augment.shift, trainer.train_step.augment.cutout) == (0.125, 0.25)
    assert all(bool(torch.isfinite(v)) for m in metrics for v in m.values())
    # the augmentation draws from the trainer's RNG, so two runs from one seed are identical
    other = Trainer(recipe, dataset, tmp_path / "b")
    for _ in range(3):
        other.train_step()
    for a, b in zip(trainer.state.generator.parameters(), other.state.generator.parameters()):
        assert torch.equal(a, b)
    # ... and the critic really sees augmented inputs: without augmentation the weights differ
    plain = Trainer(tiny_voice(), dataset, tmp_path / "c")
    for _ in range(3):
        plain.train_step()
    assert not all(torch.equal(a, b) for a, b in zip(trainer.state.critic.parameters(), plain.state.critic.parameters()))
