"""A small reference classifier for benchmarks: trained on real training samples of a recipe
(the same [-1, 1] features the GAN sees), it scores generated samples by label accuracy and
by the Frechet distance between its embeddings of generated and real held-out samples.

Shared by the benchmark scripts; `ganaudio evaluate` (issue 5) will bring a classifier on
features of its own.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import linalg
from torch import nn


class ReferenceCNN(nn.Module):
    """Three conv blocks and a linear head; `embed` gives the 64-d penultimate features."""

    def __init__(self, num_classes: int):
        super().__init__()
        block = lambda i, o: [nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU(), nn.MaxPool2d(2)]  # noqa: E731
        self.body = nn.Sequential(*block(1, 16), *block(16, 32), *block(32, 64),
                                  nn.AdaptiveAvgPool2d((2, 2)), nn.Flatten(), nn.Linear(256, 64), nn.ReLU())
        self.head = nn.Linear(64, num_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x))


def train_reference(samples: torch.Tensor, labels: torch.Tensor, num_classes: int, epochs: int = 8,
                    seed: int = 0) -> ReferenceCNN:
    torch.manual_seed(seed)
    model = ReferenceCNN(num_classes)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    rng = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        model.train()
        for index in torch.randperm(len(samples), generator=rng).split(64):
            # a random time shift of up to 4 frames: the classifier must not key on position
            batch = torch.roll(samples[index], int(torch.randint(-4, 5, (1,), generator=rng)), dims=-1)
            loss = nn.functional.cross_entropy(model(batch), labels[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model.eval()


@torch.no_grad()
def predict_and_embed(model: ReferenceCNN, samples: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    embeddings = torch.cat([model.embed(chunk) for chunk in samples.split(256)])
    return model.head(embeddings).argmax(dim=1), embeddings


def frechet_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Frechet distance between Gaussians fitted to two sets of embeddings (as FID does)."""
    a, b = a.double().numpy(), b.double().numpy()
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean, _ = linalg.sqrtm(cov_a @ cov_b, disp=False)
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * covmean.real))
