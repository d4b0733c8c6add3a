"""MNIST quality of ganaudio's `recipes/mnist.yaml` against the textbook MLP GAN, trained on
the same 8,000 images for the same wall-clock budget, side by side in one run.

    OMP_WAIT_POLICY=PASSIVE python benchmarks/mnist_vs_mlp.py --data ../shared/data/mnist --minutes 5

The baseline is the seed-style PyTorch loop, made conditional so both can be asked for a
digit: an MLP generator with batch norm (z + one-hot label -> 256 -> 512 -> 1024 -> 784, tanh),
an MLP discriminator with dropout (784 + one-hot -> 512 -> 256 -> 1), BCE loss, Adam 2e-4
(0.5, 0.999), batch 64. Both are scored by `ganaudio evaluate`'s reference classifier, trained
on the 8,000 training images only: label accuracy of 1,000 generated images (100 per digit),
inception score and the Frechet distance between classifier embeddings of generated and the
2,000 held-out images (which neither the GANs nor the classifier trained on).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from ganaudio.config import load_recipe
from ganaudio.data import load_dataset
from ganaudio.evaluate import Reference
from ganaudio.plots import image_grid
from ganaudio.train import Trainer


class MLPGenerator(nn.Module):
    def __init__(self, latent: int = 100):
        super().__init__()
        def block(i, o):
            return [nn.Linear(i, o), nn.BatchNorm1d(o), nn.LeakyReLU(0.2)]
        self.net = nn.Sequential(*block(latent + 10, 256), *block(256, 512), *block(512, 1024),
                                 nn.Linear(1024, 784), nn.Tanh())

    def forward(self, z, labels):
        return self.net(torch.cat([z, nn.functional.one_hot(labels, 10).float()], 1)).view(-1, 1, 28, 28)


class MLPDiscriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(784 + 10, 512), nn.LeakyReLU(0.2), nn.Dropout(0.3),
                                 nn.Linear(512, 256), nn.LeakyReLU(0.2), nn.Dropout(0.3), nn.Linear(256, 1))

    def forward(self, x, labels):
        return self.net(torch.cat([x.flatten(1), nn.functional.one_hot(labels, 10).float()], 1)).squeeze(1)


def train_mlp_gan(samples: torch.Tensor, labels: torch.Tensor, minutes: float, seed: int = 0):
    torch.manual_seed(seed)
    generator, discriminator = MLPGenerator(), MLPDiscriminator()
    opt_g = torch.optim.Adam(generator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < 60 * minutes:
        index = torch.randint(len(samples), (64,))
        real, y = samples[index], labels[index]
        fake = generator(torch.randn(64, 100), y)
        loss_d = bce(discriminator(real, y), torch.ones(64)) + bce(discriminator(fake.detach(), y), torch.zeros(64))
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        loss_g = bce(discriminator(fake, y), torch.ones(64))
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        steps += 1
    generator.eval()
    return lambda z, y: generator(z, y), steps


def score(sample_fn, reference: Reference, latent: int, per_label: int = 100):
    labels = torch.arange(10).repeat_interleave(per_label)
    z = torch.randn(len(labels), latent, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        images = sample_fn(z, labels).float()
    return reference.score(images, labels), images


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--plots", type=Path, help="folder for sample grids of both models")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        help="override a value of recipes/mnist.yaml for an ablation (repeatable)")
    parser.add_argument("--no-baseline", action="store_true", help="train only ganaudio (for ablations)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    recipe = load_recipe("mnist", [f"train.max_minutes={args.minutes}", "train.steps=1000000",
                                   "train.sample_every=1000000", "train.checkpoint_every=1000000", *args.overrides],
                         data_root=args.data)
    train = load_dataset(recipe, "train")
    reference = Reference.for_recipe(recipe)  # trained on the training split only
    real = reference.real
    print(f"{len(train)} training images, {real.count} held-out; {args.minutes:g} min each; "
          f"torch threads {torch.get_num_threads()}")
    print(f"real held-out: accuracy {real.accuracy:.3f}, inception score {real.inception_score:.2f}, "
          f"Frechet distance of as many training images to them {real.frechet_distance:.2f}")

    if args.overrides:
        print(f"recipes/mnist.yaml with {' '.join(args.overrides)}")
    rows = []
    if not args.no_baseline:
        mlp, mlp_steps = train_mlp_gan(train.samples, train.labels, args.minutes)
        rows.append(("MLP GAN (BCE, batch norm, dropout)", mlp, 100, mlp_steps))
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(recipe, train, Path(run_dir))
        trainer.fit()
    ours = lambda z, y: trainer.state.generator_ema(z, y)  # noqa: E731
    rows.append(("ganaudio recipes/mnist.yaml", ours, recipe.model.latent_dim, trainer.step))
    print("| model | generator steps | label accuracy | inception score | Frechet distance to held-out |")
    print("|---|---:|---:|---:|---:|")
    for name, fn, latent, steps in rows:
        scores, images = score(fn, reference, latent)
        print(f"| {name} | {steps} | {scores.accuracy:.3f} | {scores.inception_score:.2f} | "
              f"{scores.frechet_distance:.2f} |")
        if args.plots:
            args.plots.mkdir(parents=True, exist_ok=True)
            stem = "mlp" if "MLP" in name else "ganaudio"
            image_grid(images[::25][:40], args.plots / f"mnist-{stem}.png", columns=10)


if __name__ == "__main__":
    main()
