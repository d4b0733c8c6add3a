"""MNIST quality of ganaudio's `recipes/mnist.yaml` against the textbook MLP GAN, trained on
the same 8,000 images for the same wall-clock budget, side by side in one run.

    OMP_WAIT_POLICY=PASSIVE python benchmarks/mnist_vs_mlp.py --data ../shared/data/mnist --minutes 5

The baseline is the seed-style PyTorch loop, made conditional so both can be asked for a
digit: an MLP generator with batch norm (z + one-hot label -> 256 -> 512 -> 1024 -> 784, tanh),
an MLP discriminator with dropout (784 + one-hot -> 512 -> 256 -> 1), BCE loss, Adam 2e-4
(0.5, 0.999), batch 64. Both are scored by a small CNN trained on the 2,000 held-out real
images (benchmarks/reference.py): label accuracy of 1,000 generated images (100 per digit)
and the Frechet distance between classifier embeddings of generated and held-out images.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference import frechet_distance, predict_and_embed, train_reference  # noqa: E402

from ganaudio.config import load_recipe  # noqa: E402
from ganaudio.data import load_dataset  # noqa: E402
from ganaudio.plots import image_grid  # noqa: E402
from ganaudio.train import Trainer  # noqa: E402


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


def score(sample_fn, classifier, held_out_embed, latent: int, per_label: int = 100):
    labels = torch.arange(10).repeat_interleave(per_label)
    z = torch.randn(len(labels), latent, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        images = sample_fn(z, labels).float()
    predicted, embeddings = predict_and_embed(classifier, images)
    return float((predicted == labels).float().mean()), frechet_distance(embeddings, held_out_embed), images


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
    train, held_out = load_dataset(recipe, "train"), load_dataset(recipe, "test")
    classifier = train_reference(held_out.samples, held_out.labels, 10, epochs=15)
    _, held_out_embed = predict_and_embed(classifier, held_out.samples)
    _, train_embed = predict_and_embed(classifier, train.samples[:2000])
    print(f"{len(train)} training images, {len(held_out)} held-out; {args.minutes:g} min each; "
          f"torch threads {torch.get_num_threads()}")
    print(f"reference: Frechet distance of 2,000 real training images to held-out: "
          f"{frechet_distance(train_embed, held_out_embed):.2f}")

    if args.overrides:
        print(f"recipes/mnist.yaml with {' '.join(args.overrides)}")
    rows = []
    if not args.no_baseline:
        mlp, mlp_steps = train_mlp_gan(train.samples, train.labels, args.minutes)
        rows.append(("MLP GAN (BCE, batch norm, dropout)", mlp, 100, mlp_steps))
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(recipe, train, Path(run_dir))
        trainer.fit()
    ours = lambda z, y: trainer.generator_ema(z, y)  # noqa: E731
    rows.append(("ganaudio recipes/mnist.yaml", ours, recipe.model.latent_dim, trainer.step))
    print("| model | generator steps | label accuracy | Frechet distance to held-out |")
    print("|---|---:|---:|---:|")
    for name, fn, latent, steps in rows:
        accuracy, distance, images = score(fn, classifier, held_out_embed, latent)
        print(f"| {name} | {steps} | {accuracy:.3f} | {distance:.2f} |")
        if args.plots:
            args.plots.mkdir(parents=True, exist_ok=True)
            stem = "mlp" if "MLP" in name else "ganaudio"
            image_grid(images[::25][:40], args.plots / f"mnist-{stem}.png", columns=10)


if __name__ == "__main__":
    main()
