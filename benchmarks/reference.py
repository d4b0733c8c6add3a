"""A small reference classifier for benchmarks: trained on real training samples of a recipe
(the same [-1, 1] features the GAN sees), it scores generated samples by label accuracy and
by the Frechet distance between its embeddings of generated and real held-out samples.

Shared by the older benchmark scripts (score_run, mnist_vs_mlp, griffin_lim_accuracy), whose
figures in BENCHMARKS.md were measured with it. `ganaudio evaluate` (ganaudio/evaluate.py)
listens through audio with features of its own; quality_digits.py uses that.
"""

from __future__ import annotations

import torch
from torch import nn

from ganaudio.evaluate import ReferenceCNN, frechet_distance

__all__ = ["ReferenceCNN", "frechet_distance", "predict_and_embed", "train_reference"]  # what the scripts import


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
