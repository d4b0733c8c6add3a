"""Generated samples -> scores against real data: `ganaudio evaluate` and the trainer's
periodic evaluation.

A reference classifier is trained once on the real training split of a recipe's data and
cached (keyed by the data's files and config). For audio it listens to waveforms through
features of its own (40-band log-mels, 25 ms windows, 10 ms hops), not the GAN's
normalized mels, so generated clips are judged after the vocoder, as a listener hears them.
For images it is the same small CNN on pixels (LeNet-style: conv-pool blocks, two dense
layers). Its softmax and 64-d penultimate embedding give every figure:

- accuracy on the intended label (conditional models);
- inception score, exp E[KL(p(y|x) || p(y))], mean and spread over 10 splits;
- Frechet distance between embeddings of the samples and of real held-out samples;
- nearest-neighbour ratio: mean embedding distance of the samples to their nearest real
  training sample, over the same for real held-out samples (well below 1: memorisation);
- the fraction of silent clips and of clipped clips (audio; measured before levelling).

A second embedding that nothing is trained on or tuned to (`SignalStatistics`: MFCC and
loudness-envelope statistics for audio, the image averaged down to 7x7 for images) gives the
figures that do not depend on the classifier (which a kit of 50 clips cannot train well, and
whose Frechet distance picks best.pt):

- a second Frechet distance;
- improved precision and recall (Kynkaanniemi et al. 2019): the share of samples inside the
  real held-out samples' k-nearest-neighbour balls (fidelity), and of real held-out samples
  inside the samples' (coverage);
- each label's spread: its samples' mean pairwise distance over its real held-out samples'
  (near 0: the label collapsed to one shape).

The trainer's evaluations (which pick best.pt) compare with a fixed subset of the real
training clips; `ganaudio evaluate` compares with the real held-out clips, which no training
run and no choice of checkpoint has seen. Every figure comes with the same figure for real
held-out data (for Frechet distance: real training vs real held-out samples of the same
number), and for audio with real held-out clips sent through the GAN's own features and
vocoder, which is the best a perfect generator could score through that vocoder.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from ganaudio.audio import normalize_level
from ganaudio.config import Recipe, with_data_root
from ganaudio.data import load_dataset, read_audio_clips, recipe_fingerprint, source_for
from ganaudio.data.cache import cache_root, load_cached, save_cached
from ganaudio.errors import UserError
from ganaudio.features import MelFeatures
from ganaudio.vocoder import GriffinLimVocoder, Vocoder, vocode

CLASSIFIER_FORMAT = 6  # bump when the classifier, its features, its training or the statistics change
INCEPTION_SPLITS = 10  # inception score splits, as in Salimans et al. 2016
SILENT_RMS_DB = -45.0  # a clip quieter than this (RMS, dBFS) is silent: real FSDD speech is ~-20
CLIPPED_SAMPLES = 0.001  # a clip with more than 0.1% of its samples at or past full scale is clipped
EMBED_BATCH = 512
NEIGHBOURS = 3  # k of precision and recall, as Kynkaanniemi et al. 2019
SPREAD_MIN_REAL = 5  # real held-out clips a label needs for its spread to be reported
# Generated samples a label's spread is measured on, at least: a mean over the pairs of 4 or 5
# clips (27 clips over a drum kit's 6 labels) swung 0.31-1.23 between latent seeds of one model
# (BENCHMARKS.md); 30 give 435 pairs. `evaluate` draws more for the spread when n gives fewer.
SPREAD_PER_LABEL = 30
STATISTICS_MFCCS = 20
# The statistics hear a clip over white noise this far below full scale (RMS), as a listener
# hears it over a quiet room at a level where its peaks are loud: about 20 dB above 16-bit
# quantisation noise (-101 dBFS RMS), 35 dB below a silent clip (SILENT_RMS_DB). Without it,
# the bundled digits model's edges (hiss 98 dB below the peak, against digital silence in the
# real clips' padding) put the loudness of a clip's first and last eighth 1.2 real standard
# deviations off (BENCHMARKS.md, benchmarks/silence_floor.py).
STATISTICS_FLOOR_DBFS = -80.0
STATISTICS_SEGMENTS = 8  # parts of the clip whose loudness is one dimension each
STATISTICS_IMAGE_SIDE = 7


class ReferenceCNN(nn.Module):
    """Three conv-pool blocks and two dense layers; `embed` gives the 64-d penultimate features."""

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


class ClassifierInputs:
    """What the classifier sees: its own standardized log-mels of waveforms (audio), or the
    pixels in [-1, 1] as they are (images)."""

    def __init__(self, sample_rate: int | None, mean: float = 0.0, std: float = 1.0):
        self.sample_rate, self.mean, self.std = sample_rate, mean, std
        self.mel = None
        if sample_rate is not None:
            import torchaudio

            n_fft = 2 ** math.ceil(math.log2(0.025 * sample_rate))  # >= 25 ms window
            self.mel = torchaudio.transforms.MelSpectrogram(
                sample_rate, n_fft=n_fft, win_length=int(0.025 * sample_rate),
                hop_length=int(0.010 * sample_rate), n_mels=40, f_min=20.0)

    def log_mel(self, waveforms: torch.Tensor) -> torch.Tensor:
        return torch.log(self.mel(waveforms.float()) + 1e-6).unsqueeze(1)

    def fit(self, waveforms: torch.Tensor) -> None:
        log_mels = self.log_mel(waveforms)
        self.mean, self.std = float(log_mels.mean()), float(log_mels.std())

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.mel is None:
            return x.float()
        return (self.log_mel(x) - self.mean) / self.std


class SignalStatistics:
    """The second embedding: summary statistics no network learns, standardized per dimension
    with the real training samples' mean and spread. Audio: the mean and spread over time of 20
    MFCCs (windows of 32 ms or more, a power of two of samples, and 64 bands: not the classifier's
    25 ms and 40 bands) and the loudness in
    8 equal parts of the clip (where its attack and decay are), over a floor of white noise at
    STATISTICS_FLOOR_DBFS; images: the image averaged down to 7x7 pixels."""

    def __init__(self, sample_rate: int | None, mean: torch.Tensor | None = None, std: torch.Tensor | None = None):
        self.sample_rate, self.mean, self.std = sample_rate, mean, std
        if sample_rate is not None:
            import torchaudio

            n_fft = 2 ** math.ceil(math.log2(0.032 * sample_rate))
            self.mel = torchaudio.transforms.MelSpectrogram(sample_rate, n_fft=n_fft, hop_length=n_fft // 4,
                                                            n_mels=64, f_min=20.0)
            self.dct = torchaudio.functional.create_dct(STATISTICS_MFCCS, 64, "ortho")
            self.floor = noise_floor(self.mel)

    def raw(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float()
        if self.sample_rate is None:
            return nn.functional.adaptive_avg_pool2d(x, STATISTICS_IMAGE_SIDE).flatten(1)
        power = self.mel(x) + self.floor[:, None]  # (n, bands, frames)
        mfccs = (10 * torch.log10(power + 1e-8)).transpose(1, 2) @ self.dct  # (n, frames, mfccs)
        loudness = 10 * torch.log10(power.sum(dim=1, keepdim=True) + 1e-8)  # (n, 1, frames)
        envelope = nn.functional.adaptive_avg_pool1d(loudness, STATISTICS_SEGMENTS).squeeze(1)
        return torch.cat([mfccs.mean(dim=1), mfccs.std(dim=1), envelope], dim=1)

    def fit(self, x: torch.Tensor) -> None:
        raw = self.raw(x)
        # A dimension that hardly varies in real data (an image's blank corner) must not turn
        # invisible differences into large ones: no spread below a tenth of the median's.
        std = raw.std(dim=0)
        self.mean, self.std = raw.mean(dim=0), std.clamp_min(max(1e-6, 0.1 * float(std.median())))

    @torch.no_grad()
    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([(self.raw(chunk) - self.mean) / self.std for chunk in x.split(EMBED_BATCH)])


def noise_floor(mel) -> torch.Tensor:
    """Per band of a torchaudio MelSpectrogram (power 2, unnormalised): the expected power of
    white noise at STATISTICS_FLOOR_DBFS RMS. Each STFT bin of white noise of variance v has
    power v * sum(window**2)."""
    variance = 10 ** (STATISTICS_FLOOR_DBFS / 10)
    return variance * float(mel.spectrogram.window.pow(2).sum()) * mel.mel_scale.fb.sum(dim=0)


@dataclass
class Scores:
    """The evaluation figures of one set of samples."""

    count: int
    accuracy: float | None  # None for an unconditional model
    inception_score: float
    inception_score_std: float
    frechet_distance: float
    nearest_neighbour_ratio: float
    silent: float | None  # None for images
    clipped: float | None
    # on the signal statistics, against the real samples scored against (held-out by default;
    # the selection clips during training; see the module's docstring)
    signal_frechet_distance: float
    precision: float
    recall: float
    label_spread: dict[str, float]  # per label, or "all" for an unconditional model
    # per label: the share of its samples the classifier hears as that label (conditional models)
    label_accuracy: dict[str, float] = dataclasses.field(default_factory=dict)

    def least_varied(self) -> tuple[str, float] | None:
        """The label with the least spread, and its spread."""
        return min(self.label_spread.items(), key=lambda item: item[1]) if self.label_spread else None


@dataclass
class Evaluation:
    """Generated samples' scores beside real held-out data's (and, for audio, real held-out
    clips sent through the GAN's features and vocoder)."""

    generated: Scores
    real: Scores
    vocoded: Scores | None = None
    decoder: str | None = None  # the vocoder's description (audio)
    temperature: float = 1.0  # the latent spread the generated samples were drawn at (synth.py)
    spread_count: int | None = None  # generated samples the spreads were measured on, where not generated.count

    def to_dict(self) -> dict:
        return {**{name: dataclasses.asdict(scores) for name, scores in
                   (("generated", self.generated), ("real", self.real), ("real_vocoded", self.vocoded)) if scores},
                **({"decoder": self.decoder} if self.decoder else {}), "temperature": self.temperature,
                **({"spread_count": self.spread_count} if self.spread_count else {})}

    def table(self) -> str:
        """The figures as an aligned text table, one column per set of samples."""
        columns = [("generated", self.generated), ("real held-out", self.real)]
        if self.vocoded is not None:
            columns.append(("real via vocoder", self.vocoded))
        rows = [("samples", lambda s: f"{s.count}"),
                ("label accuracy", lambda s: _fmt(s.accuracy, "{:.3f}")),
                ("inception score", lambda s: f"{s.inception_score:.2f} +- {s.inception_score_std:.2f}"),
                ("Frechet distance", lambda s: f"{s.frechet_distance:.2f}"),
                ("nearest-neighbour ratio", lambda s: f"{s.nearest_neighbour_ratio:.3f}"),
                ("silent clips", lambda s: _fmt(s.silent, "{:.1%}")),
                ("clipped clips", lambda s: _fmt(s.clipped, "{:.1%}")),
                ("Frechet distance, signal statistics", lambda s: f"{s.signal_frechet_distance:.2f}"),
                ("precision (fidelity)", lambda s: f"{s.precision:.3f}"),
                ("recall (coverage)", lambda s: f"{s.recall:.3f}"),
                ("least label spread", _least_varied)]
        cells = [["", *(name for name, _ in columns)]]
        cells += [[label, *(show(scores) for _, scores in columns)] for label, show in rows]
        widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
        lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
                 for row in cells]
        if self.temperature != 1.0:
            lines.append(f"Generated at temperature {self.temperature:g}: latent noise {self.temperature:g} times as "
                         f"spread as in training.")
        lines.append("Real held-out column: distances, precision, recall and spread are real training vs real "
                     "held-out samples of the same number.")
        if self.vocoded is not None:
            lines.append("Real via vocoder: the held-out clips themselves through the model's features and vocoder, "
                         "so its distances to them are pairwise: what the vocoder alone changes.")
        lines.append("Last four rows: on MFCC and loudness statistics (images: 7x7 pixels), which no model was "
                     "trained or picked on; spread 1.0 is as varied as the real held-out clips of a label.")
        if len(self.generated.label_spread) > 1:
            drawn = "" if self.spread_count is None else f" (from {self.spread_count} samples)"
            lines.append(f"Spread per label, generated{drawn}: "
                         + ", ".join(f"{name} {value:.2f}" for name, value in self.generated.label_spread.items()))
        if self.generated.label_accuracy:
            lines.append("Accuracy per label, generated: " + ", ".join(
                f"{name} {value:.2f}" for name, value in self.generated.label_accuracy.items()))
        return "\n".join(lines)


def _least_varied(scores: Scores) -> str:
    least = scores.least_varied()
    return "-" if least is None else f"{least[1]:.2f} ({least[0]})"


def _fmt(value: float | None, pattern: str) -> str:
    return "-" if value is None else pattern.format(value)


@dataclass
class RealSet:
    """Real samples as the scores see them: classifier embeddings, signal statistics, labels."""

    embeddings: torch.Tensor
    statistics: torch.Tensor
    labels: torch.Tensor


class Reference:
    """The trained classifier and what it made of the real data: everything generated samples
    are scored against. Build it with `Reference.for_recipe`.

    `heldout` is the real held-out split, which reported figures use; `selection` is a fixed
    subset of the training split, as large, which the trainer's evaluations (and so best.pt)
    use, so that the figures `ganaudio evaluate` reports come from clips no model was picked on
    (StyleGAN also picks on the training set)."""

    def __init__(self, classifier: ReferenceCNN, inputs: ClassifierInputs, label_names: list[str],
                 train_embeddings: torch.Tensor, heldout: RealSet, selection: RealSet, heldout_nn_distance: float,
                 real: Scores, statistics: SignalStatistics,
                 normalize: Callable[[torch.Tensor], torch.Tensor] | None = None):
        self.classifier, self.inputs, self.label_names = classifier.eval(), inputs, label_names
        self.train_embeddings, self.heldout, self.selection = train_embeddings, heldout, selection
        self.statistics, self.heldout_nn_distance, self.real = statistics, heldout_nn_distance, real
        self.normalize = normalize  # levels generated clips as the real ones were

    @property
    def is_audio(self) -> bool:
        return self.inputs.sample_rate is not None

    @classmethod
    def for_recipe(cls, recipe: Recipe, epochs: int = 15) -> "Reference":
        """The cached reference for the recipe's data, trained and cached first if needed."""
        if not source_for(recipe).labelled:
            raise UserError("evaluate: needs labelled data to train its reference classifier "
                            "(data.labels is 'none')")
        path = classifier_cache_path(recipe, epochs)
        payload = load_cached(path)
        if payload is None:
            payload = _train_reference(recipe, epochs)
            save_cached(path, payload)
        return cls.from_payload(payload, recipe)

    @classmethod
    def from_payload(cls, payload: dict, recipe: Recipe) -> "Reference":
        inputs = ClassifierInputs(payload["sample_rate"], payload["mean"], payload["std"])
        classifier = ReferenceCNN(len(payload["label_names"]))
        classifier.load_state_dict(payload["classifier"])
        data = recipe.data
        normalize = (lambda w: normalize_level(w, data.normalize, data.peak_db, data.rms_db)) if inputs.sample_rate else None
        statistics = SignalStatistics(payload["sample_rate"], payload["statistics_mean"], payload["statistics_std"])
        return cls(classifier, inputs, list(payload["label_names"]), payload["train_embeddings"],
                   RealSet(**payload["heldout"]), RealSet(**payload["selection"]), payload["heldout_nn_distance"],
                   Scores(**payload["real"]), statistics, normalize)

    def require_labels(self, model_labels: list[str], model: str) -> None:
        """A conditional model is scored against the data it was trained on: same label names."""
        if model_labels and model_labels != self.label_names:
            raise UserError(f"{model}: the model's labels ({', '.join(model_labels)}) are not the data's "
                            f"({', '.join(self.label_names)}); pass the data it was trained on with --data")

    def level(self, waveforms: torch.Tensor) -> torch.Tensor:
        """Clips (n, samples) levelled as the data pipeline levelled the real ones."""
        return torch.stack([self.normalize(w) for w in waveforms])

    @torch.no_grad()
    def classify(self, samples: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(class probabilities, embeddings) of waveforms (audio) or images (n, 1, h, w)."""
        embeddings = torch.cat([self.classifier.embed(self.inputs(chunk)) for chunk in samples.split(EMBED_BATCH)])
        return self.classifier.head(embeddings).softmax(dim=1), embeddings

    def score(self, samples: torch.Tensor, labels: torch.Tensor | None, against: RealSet | None = None,
              spread_from: tuple[torch.Tensor, torch.Tensor] | None = None) -> Scores:
        """Score raw vocoder waveforms (n, samples) or images (n, 1, h, w) in [-1, 1];
        `labels` are the intended class indices (None for an unconditional model). Distances,
        precision, recall and spread are to `against` (default: the held-out split); the
        spread per label is measured on `spread_from` (samples, labels) where given, a larger
        draw of the same model."""
        real = against or self.heldout
        require_enough_samples(len(samples))
        raw = samples.detach().float().cpu()  # the classifier lives on the CPU: it is small
        silent = clipped = None
        if self.is_audio:
            silent, clipped = silent_fraction(raw), clipped_fraction(raw)
        samples = self._levelled(raw)
        probabilities, embeddings = self.classify(samples)
        accuracy = None if labels is None else float((probabilities.argmax(1) == labels.cpu()).float().mean())
        label_accuracy = {} if labels is None else accuracy_per_label(probabilities, labels.cpu(), self.label_names)
        is_mean, is_std = inception_score(probabilities)
        nn_distance = float(nearest_distances(embeddings, self.train_embeddings).mean())
        statistics = self.statistics(samples)
        precision, recall = precision_recall(statistics, real.statistics)
        return Scores(count=len(samples), accuracy=accuracy, inception_score=is_mean, inception_score_std=is_std,
                      frechet_distance=frechet_distance(embeddings, real.embeddings),
                      nearest_neighbour_ratio=nn_distance / self.heldout_nn_distance,
                      silent=silent, clipped=clipped,
                      signal_frechet_distance=frechet_distance(statistics, real.statistics),
                      precision=precision, recall=recall,
                      label_spread=(self.spreads(*spread_from, against=real) if spread_from is not None
                                    else self._spreads(statistics, labels, real)),
                      label_accuracy=label_accuracy)

    def spreads(self, samples: torch.Tensor, labels: torch.Tensor | None,
                against: RealSet | None = None) -> dict[str, float]:
        """Each label's spread (label_spreads) of raw samples, measured as `score` measures it."""
        return self._spreads(self.statistics(self._levelled(samples)), labels, against or self.heldout)

    def _spreads(self, statistics: torch.Tensor, labels: torch.Tensor | None, real: RealSet) -> dict[str, float]:
        return label_spreads(statistics, None if labels is None else labels.cpu(), real.statistics, real.labels,
                             self.label_names)

    def _levelled(self, samples: torch.Tensor) -> torch.Tensor:
        """On the CPU, float, and for audio at the level the statistics hear every clip at."""
        samples = samples.detach().float().cpu()
        return self.level(samples) if self.is_audio else samples


def classifier_cache_path(recipe: Recipe, epochs: int) -> Path:
    """Keyed by what decides the classifier: the files (absolute paths, sizes, times), what the
    data is (not where it lives), the clip rate and length, and the training. The GAN's mel
    settings are left out, so recipes that differ only there share one classifier and their
    figures compare; so do a training run and the model exported from it."""
    data = vars(recipe.data.what_the_data_is())
    clips = ["image", None, None] if recipe.data.is_images else ["mel", recipe.features.sample_rate,
                                                                  recipe.features.clip_samples]
    blob = json.dumps([CLASSIFIER_FORMAT, data, clips, epochs, recipe_fingerprint(recipe)], sort_keys=True, default=str)
    key = hashlib.sha256(blob.encode()).hexdigest()[:24]
    return cache_root(recipe.data) / "classifiers" / f"{recipe.data.source}-{key}.pt"


def _train_reference(recipe: Recipe, epochs: int) -> dict:
    """Train the classifier on the real training split and measure the real held-out data."""
    train, test = _real_splits(recipe)
    (train_x, train_y, names), (test_x, test_y, _) = train, test
    inputs = ClassifierInputs(recipe.features.sample_rate if not recipe.data.is_images else None)
    if inputs.sample_rate is not None:
        inputs.fit(train_x)
    classifier = _fit_classifier(inputs(train_x), train_y, len(names), epochs)
    statistics = SignalStatistics(inputs.sample_rate)
    statistics.fit(train_x)
    nothing = RealSet(torch.empty(0), torch.empty(0), torch.empty(0))
    reference = Reference(classifier, inputs, names, torch.empty(0), nothing, nothing, 1.0, None, statistics)
    _, train_embeddings = reference.classify(train_x)
    probabilities, test_embeddings = reference.classify(test_x)
    test_statistics = statistics(test_x)
    # Real training vs real held-out, with as many training samples as held-out ones.
    subset = fixed_subset(len(train_x), len(test_x))
    subset_statistics = statistics(train_x[subset])
    is_mean, is_std = inception_score(probabilities)
    nn_distance = float(nearest_distances(test_embeddings, train_embeddings).mean())
    precision, recall = precision_recall(subset_statistics, test_statistics)
    audio = inputs.sample_rate is not None
    real = Scores(count=len(test_x), accuracy=float((probabilities.argmax(1) == test_y).float().mean()),
                  inception_score=is_mean, inception_score_std=is_std,
                  frechet_distance=frechet_distance(train_embeddings[subset], test_embeddings),
                  nearest_neighbour_ratio=1.0,
                  silent=silent_fraction(test_x) if audio else None, clipped=clipped_fraction(test_x) if audio else None,
                  signal_frechet_distance=frechet_distance(subset_statistics, test_statistics),
                  precision=precision, recall=recall,
                  label_spread=label_spreads(subset_statistics, train_y[subset], test_statistics, test_y, names),
                  label_accuracy=accuracy_per_label(probabilities, test_y, names))
    return {"classifier": classifier.state_dict(), "sample_rate": inputs.sample_rate, "mean": inputs.mean,
            "std": inputs.std, "label_names": names, "train_embeddings": train_embeddings,
            "heldout_nn_distance": nn_distance, "real": dataclasses.asdict(real),
            "statistics_mean": statistics.mean, "statistics_std": statistics.std,
            "heldout": {"embeddings": test_embeddings, "statistics": test_statistics, "labels": test_y},
            "selection": {"embeddings": train_embeddings[subset], "statistics": subset_statistics,
                          "labels": train_y[subset]}}


def _real_splits(recipe: Recipe) -> tuple[tuple, tuple]:
    """((samples, labels, label names) of the train split, the same of the held-out split):
    waveforms for audio, the [-1, 1] images for image data."""
    if recipe.data.is_images:
        splits = [load_dataset(recipe, split) for split in ("train", "test")]
        _require_heldout(recipe, len(splits[1]))
        return tuple((d.samples, d.labels, d.label_names) for d in splits)
    clips = read_audio_clips(recipe)
    if not clips.label_names:
        raise UserError("evaluate: needs labelled data to train its reference classifier")
    is_train = torch.tensor([s == "train" for s in clips.splits])
    _require_heldout(recipe, int((~is_train).sum()))
    return tuple((clips.waveforms[mask], clips.labels[mask], clips.label_names) for mask in (is_train, ~is_train))


def _require_heldout(recipe: Recipe, count: int) -> None:
    if count < INCEPTION_SPLITS * 2:
        where = recipe.data.root or recipe.data.source
        raise UserError(f"{where}: evaluation needs at least {INCEPTION_SPLITS * 2} held-out real samples to "
                        f"compare with, this data has {count} (for a folder, hold out more: about one file "
                        f"in N with --set data.holdout_every=N)")


def _fit_classifier(inputs: torch.Tensor, labels: torch.Tensor, num_classes: int, epochs: int,
                    seed: int = 0) -> ReferenceCNN:
    """Adam with a random shift of up to 4 frames (pixels) per batch, so the classifier does
    not key on where in the clip a word sits."""
    with torch.random.fork_rng():  # leave the caller's global RNG as it was
        torch.manual_seed(seed)
        model = ReferenceCNN(num_classes)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=3e-3, total_steps=epochs * math.ceil(len(inputs) / 64))
    rng = torch.Generator().manual_seed(seed)
    model.train()
    for _ in tqdm(range(epochs), desc="training the evaluation classifier", unit="epoch", leave=False):
        for index in torch.randperm(len(inputs), generator=rng).split(64):
            batch = torch.roll(inputs[index], int(torch.randint(-4, 5, (1,), generator=rng)), dims=-1)
            loss = nn.functional.cross_entropy(model(batch), labels[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
    return model.eval()


# ----- the figures ------------------------------------------------------------------------
def inception_score(probabilities: torch.Tensor, splits: int = INCEPTION_SPLITS) -> tuple[float, float]:
    """exp(E_x KL(p(y|x) || p(y))) on each of `splits` parts: (mean, standard deviation).
    The parts are drawn at random (fixed seed): samples sorted by label would give each part
    one class and a score of 1."""
    p = probabilities.double().clamp_min(1e-12)
    p = p[torch.randperm(len(p), generator=torch.Generator().manual_seed(0))]
    scores = []
    for part in torch.tensor_split(p, splits):
        marginal = part.mean(dim=0, keepdim=True)
        scores.append(float(torch.exp((part * (part.log() - marginal.log())).sum(dim=1).mean())))
    return float(np.mean(scores)), float(np.std(scores))


def frechet_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Frechet distance between Gaussians fitted to two sets of embeddings (as FID does)."""
    a, b = a.double().numpy(), b.double().numpy()
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    # tr(sqrtm(A B)) is the sum of the square roots of A B's eigenvalues (real and >= 0, as
    # A B is similar to A^1/2 B A^1/2); unlike sqrtm this stays quiet and exact when ReLU
    # embeddings leave the covariances singular.
    eigenvalues = np.linalg.eigvals(cov_a @ cov_b).real.clip(min=0)
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * np.sqrt(eigenvalues).sum())


def precision_recall(samples: torch.Tensor, real: torch.Tensor, k: int = NEIGHBOURS) -> tuple[float, float]:
    """Improved precision and recall (Kynkaanniemi et al. 2019): each set's manifold is the
    union of balls around its points reaching their k-th nearest neighbour in the same set.
    Precision: the share of samples inside the real manifold; recall: the share of real points
    inside the samples'. Apart from Frechet distance, a blurred average of everything scores
    high recall and low precision, and one good shape repeated the other way round. The balls
    shrink as a set grows, so the larger set is cut (fixed seed) to the smaller one's size."""
    size = min(len(samples), len(real))
    samples, real = (_first_of_shuffled(points.double(), size) for points in (samples, real))
    precision = inside_manifold(samples, real, k).double().mean()
    recall = inside_manifold(real, samples, k).double().mean()
    return float(precision), float(recall)


def inside_manifold(queries: torch.Tensor, points: torch.Tensor, k: int = NEIGHBOURS) -> torch.Tensor:
    """Whether each query lies in `points`' manifold: the union of balls around each point
    reaching its k-th nearest neighbour among them (recall per real clip, when the queries are
    real clips and the points samples)."""
    return _inside(queries, points, _radii(points, k))


def _first_of_shuffled(points: torch.Tensor, size: int) -> torch.Tensor:
    return points if len(points) == size else points[fixed_subset(len(points), size)]


def fixed_subset(count: int, size: int) -> torch.Tensor:
    """`size` of `count` indices, the same every time (seed 0)."""
    return torch.randperm(count, generator=torch.Generator().manual_seed(0))[:size]


def _radii(points: torch.Tensor, k: int) -> torch.Tensor:
    """Each point's distance to its k-th nearest other point (k + 1: itself is at 0)."""
    return torch.cat([torch.cdist(chunk, points).kthvalue(k + 1, dim=1).values for chunk in points.split(EMBED_BATCH)])


def _inside(queries: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor) -> torch.Tensor:
    """Whether each query lies in some centre's ball."""
    return torch.cat([(torch.cdist(chunk, centres) <= radii).any(dim=1) for chunk in queries.split(EMBED_BATCH)])


def accuracy_per_label(probabilities: torch.Tensor, labels: torch.Tensor, names: list[str]) -> dict[str, float]:
    """Per label asked for, the share of its samples heard as that label: a label that drifts
    toward another shows here, where the mean accuracy hides it."""
    heard = probabilities.argmax(1) == labels
    return {name: float(heard[labels == k].float().mean()) for k, name in enumerate(names) if (labels == k).any()}


def label_spreads(samples: torch.Tensor, labels: torch.Tensor | None, real: torch.Tensor, real_labels: torch.Tensor,
                  names: list[str]) -> dict[str, float]:
    """Per label, the samples' mean pairwise distance over the real ones' of that label (1: as
    varied; near 0: one shape repeated). A label is left out with fewer than 2 samples or
    SPREAD_MIN_REAL real clips, whose spread is too rough to divide by; without labels, the
    whole set under "all"."""
    def ratio(mine: torch.Tensor, theirs: torch.Tensor) -> float:
        return float(torch.pdist(mine.double()).mean() / torch.pdist(theirs.double()).mean().clamp_min(1e-12))

    if labels is None:
        return {"all": ratio(samples, real)}
    return {name: ratio(samples[labels == index], real[real_labels == index]) for index, name in enumerate(names)
            if int((labels == index).sum()) >= 2 and int((real_labels == index).sum()) >= SPREAD_MIN_REAL}


def nearest_distances(queries: torch.Tensor, references: torch.Tensor) -> torch.Tensor:
    """Euclidean distance from each query to its nearest reference, in chunks."""
    return torch.cat([torch.cdist(chunk, references).min(dim=1).values for chunk in queries.split(EMBED_BATCH)])


def silent_fraction(waveforms: torch.Tensor) -> float:
    rms_db = 20 * torch.log10(waveforms.float().pow(2).mean(dim=1).sqrt().clamp_min(1e-10))
    return float((rms_db < SILENT_RMS_DB).float().mean())


def clipped_fraction(waveforms: torch.Tensor) -> float:
    at_full_scale = (waveforms.float().abs() >= 1.0).float().mean(dim=1)
    return float((at_full_scale > CLIPPED_SAMPLES).float().mean())


def require_enough_samples(count: int) -> None:
    """The inception score averages INCEPTION_SPLITS splits of at least 2 samples each."""
    if count < INCEPTION_SPLITS * 2:
        raise UserError(f"n: evaluation needs at least {INCEPTION_SPLITS * 2} samples "
                        f"({INCEPTION_SPLITS} inception-score splits), got {count}")


# ----- round trips: a decoder against the clips it should restore --------------------------
# STFT windows of the multi-resolution distance, in seconds (rounded to a power of 2 in samples).
STFT_DISTANCE_WINDOWS = (0.016, 0.032, 0.064)
# Both distances floor each spectrum at 80 dB below the real clip's loudest bin: below it,
# noise is inaudible, and a digital-silence pad (log 0) would otherwise outweigh the sound.
FLOOR_DB = -80.0


def floored_log(power: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """log(power + floor), the floor FLOOR_DB below each reference clip's loudest bin;
    power and reference (n, freqs, frames)."""
    floor = reference.amax(dim=(1, 2), keepdim=True).clamp_min(1e-20) * 10 ** (FLOOR_DB / 10)
    return (power + floor).log()


def stft_distance(decoded: torch.Tensor, real: torch.Tensor, sample_rate: int) -> float:
    """Multi-resolution STFT distance (after Yamamoto et al. 2020, Parallel WaveGAN's loss as a
    measure): spectral convergence plus the mean absolute difference of log magnitudes (floored,
    see FLOOR_DB), averaged over windows of 16, 32 and 64 ms and over clips. Waveforms
    (n, samples); 0 when identical."""
    total = 0.0
    for seconds in STFT_DISTANCE_WINDOWS:
        n_fft = 2 ** round(math.log2(seconds * sample_rate))
        window = torch.hann_window(n_fft, device=real.device)
        made, true = (torch.stft(w, n_fft, n_fft // 4, window=window, return_complex=True).abs()
                      for w in (decoded, real))
        convergence = torch.linalg.norm((true - made).flatten(1), dim=1) / torch.linalg.norm(
            true.flatten(1), dim=1).clamp_min(1e-10)
        # half the log power difference: the log magnitude difference
        log_distance = 0.5 * (floored_log(true ** 2, true ** 2) - floored_log(made ** 2, true ** 2)).abs()
        total += float((convergence + log_distance.mean(dim=(1, 2))).mean())
    return total / len(STFT_DISTANCE_WINDOWS)


def round_trip_distances(decoded: torch.Tensor, real: torch.Tensor, features: MelFeatures) -> dict[str, float]:
    """How far decoded clips (n, samples) are from the real clips they were encoded from: the
    multi-resolution STFT distance and the mean absolute log-mel difference in the recipe's
    own mels (nats, floored as FLOOR_DB says)."""
    length = min(decoded.shape[-1], real.shape[-1])
    decoded, real = decoded[..., :length].float(), real[..., :length].float()
    made, true = features.mel_power(decoded), features.mel_power(real)
    return {"stft_distance": stft_distance(decoded, real, features.config.sample_rate),
            "log_mel_distance": float((floored_log(made, true) - floored_log(true, true)).abs().mean())}


# ----- evaluating checkpoints and training runs -------------------------------------------
def evaluate_checkpoint(path: Path | str | None, n: int | None = None, data_root: str | None = None,
                        device: str = "cpu", seed: int = 0, vocoder: Path | str | None = None,
                        griffin_lim_iters: int | None = None, temperature: float | None = None) -> Evaluation:
    """Score `n` samples of a checkpoint's (or exported generator's) EMA generator against
    its own dataset; `n` defaults to the size of the held-out split, so the Frechet distance
    compares like with like. Labels cycle through the classes. Where that leaves a label under
    SPREAD_PER_LABEL samples, the draw is that many a label: the first `n` are scored, and the
    spreads come from all of them.
    `vocoder`, `griffin_lim_iters` and `temperature` as in Synthesizer.from_checkpoint."""
    from ganaudio.synth import Synthesizer

    if n is not None:
        require_enough_samples(n)  # before the classifier trains, which can take minutes
    synthesizer = Synthesizer.from_checkpoint(path, device=device, vocoder=vocoder, griffin_lim_iters=griffin_lim_iters,
                                              temperature=temperature)
    recipe = synthesizer.recipe
    if data_root is not None:
        recipe = with_data_root(recipe, data_root)
    reference = Reference.for_recipe(recipe)
    reference.require_labels(synthesizer.labels, str(path or "the bundled digits model"))
    count = n or reference.real.count
    # One draw: the first `count` are scored, and all of it gives the spreads where `count`
    # leaves a label under SPREAD_PER_LABEL.
    drawn = max(count, SPREAD_PER_LABEL * len(synthesizer.labels or []))
    generated = synthesizer.generate(drawn, seed=seed, level=False)
    labels = synthesizer.label_indices(None, drawn)
    samples = generated.samples if generated.is_audio else generated.features
    spread_from = (samples, labels) if drawn > count else None
    scores = reference.score(samples[:count], None if labels is None else labels[:count], spread_from=spread_from)
    evaluation = Evaluation(scores, reference.real, temperature=synthesizer.temperature,
                            spread_count=drawn if spread_from is not None else None)
    if generated.is_audio:
        heldout = load_dataset(recipe, "test")
        vocoded = synthesizer.vocode(heldout.samples)
        evaluation.vocoded = reference.score(vocoded, heldout.labels if synthesizer.labels else None)
        evaluation.decoder = synthesizer.vocoder.description
    return evaluation


class TrainingEvaluator:
    """The trainer's callback: GAN samples (n, 1, h, w) and their labels -> `eval/...` figures
    against the reference's selection clips (real training clips, so the held-out split stays
    unseen by model selection), audio decoded by `vocoder` (default: Griffin-Lim).

    `measure` names what the figures are comparable under; best.pt keeps it, so a run resumed
    under another measure (another decoder, or best.pt from before selection clips) does not
    compare its figures with one they cannot be compared with (loop.py)."""

    def __init__(self, recipe: Recipe, feature_state: dict[str, torch.Tensor], vocoder: Vocoder | None = None):
        self.reference = Reference.for_recipe(recipe)
        self.conditional = recipe.model.conditional
        self.decoder = None
        if self.reference.is_audio:
            self.decoder = vocoder or GriffinLimVocoder(MelFeatures.from_state_dict(recipe.features, feature_state))
        what = "clips" if self.reference.is_audio else "images"
        decoded = f", decoded by {self.decoder.description}" if self.decoder is not None else ""
        if hasattr(self.decoder, "weights_digest"):
            decoded += f" with weights {self.decoder.weights_digest()}"
        self.measure = (f"with evaluation classifier format {CLASSIFIER_FORMAT}: {recipe.train.eval_samples} samples "
                        f"against {len(self.reference.selection.labels)} training {what}{decoded}")

    def __call__(self, samples: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
        if self.decoder is not None:
            samples = vocode(self.decoder, samples)
        scores = self.reference.score(samples, labels if self.conditional else None, against=self.reference.selection)
        figures = {f"eval/{key}": value for key, value in dataclasses.asdict(scores).items()
                   if isinstance(value, float)}
        least = scores.least_varied()
        if least is not None:
            figures["eval/least_label_spread"] = least[1]
        if scores.label_accuracy:
            figures["eval/least_label_accuracy"] = min(scores.label_accuracy.values())
        return figures

