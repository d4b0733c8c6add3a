"""Evaluation: the reference classifier scores real clips like the reference and noise badly,
is cached, and `ganaudio evaluate` and the trainer's best.pt work end to end."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
import torch
from scipy import linalg

import ganaudio.evaluate as evaluate_module
from ganaudio.checkpoint import BEST, load_checkpoint
from ganaudio.cli import main
from ganaudio.config import load_recipe
from ganaudio.data import load_dataset, read_audio_clips
from ganaudio.errors import UserError
from ganaudio.evaluate import (Reference, clipped_fraction, frechet_distance, inception_score, label_spreads,
                               precision_recall, SignalStatistics, silent_fraction, TrainingEvaluator)
from ganaudio.features import MelFeatures
from ganaudio.run_folder import RunFolder
from ganaudio.synth import Synthesizer
from ganaudio.train import Trainer
from ganaudio.vocoder import LearnedVocoder, build_net
from tests.test_train import TINY_MEL, TINY_MODEL, TINY_TRAIN

# 300 synthetic vowel clips: every 10th (30) is held out
VOICE = ["data.num_clips=300", *TINY_MEL, *TINY_MODEL, *TINY_TRAIN]


def voice_recipe(*extra):
    return load_recipe("voice", [*VOICE, *extra])


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("evaluate-cache")


@pytest.fixture
def recipe(shared_cache):
    """The voice recipe with one cache for the module, so the classifier trains once."""
    return voice_recipe(f"data.cache_dir={shared_cache}")


def test_real_clips_score_near_the_reference_and_noise_scores_badly(recipe):
    reference = Reference.for_recipe(recipe)
    assert reference.real.accuracy >= 0.9 and reference.real.count == 30
    clips = read_audio_clips(recipe)
    train = torch.tensor([s == "train" for s in clips.splits])
    real = reference.score(clips.waveforms[train][:30], clips.labels[train][:30])
    assert real.accuracy >= 0.9
    assert real.inception_score > 0.8 * reference.real.inception_score
    assert real.frechet_distance < 3 * reference.real.frechet_distance + 1.0
    assert real.nearest_neighbour_ratio < 0.5  # these are training clips: their nearest neighbour is themselves
    assert real.silent == 0 and real.clipped == 0
    # the classifier-free figures, on the signal statistics
    assert real.signal_frechet_distance < 3 * reference.real.signal_frechet_distance + 1.0
    assert real.precision >= 0.8 and real.recall >= 0.8
    assert set(real.label_accuracy) == set("aeiou") and min(real.label_accuracy.values()) >= 0.7
    # a vowel with fewer than 5 held-out clips has no spread to divide by: left out
    assert set(real.label_spread) <= set("aeiou") and len(real.label_spread) >= 3
    assert 0.5 < real.least_varied()[1] < 2
    noise = reference.score(0.3 * torch.randn(30, clips.waveforms.shape[1], generator=torch.Generator().manual_seed(0)),
                            torch.arange(30) % 5)
    assert noise.accuracy <= 0.5
    assert noise.frechet_distance > 10 * max(real.frechet_distance, 1.0)
    assert noise.inception_score < 0.6 * reference.real.inception_score
    assert noise.nearest_neighbour_ratio > 1.5
    assert noise.signal_frechet_distance > 10 * real.signal_frechet_distance
    assert noise.precision == 0 and noise.recall == 0
    # one clip of each vowel, repeated: faithful but with no variety
    repeated = clips.waveforms[train][torch.tensor([int(torch.nonzero(clips.labels[train] == k)[0]) for k in range(5)])]
    one_each = reference.score(repeated.repeat(6, 1), torch.arange(5).repeat(6))
    assert one_each.precision >= 0.8 and one_each.recall <= 0.5  # as faithful as the 30 real clips above
    # every clip asked for as "a" is an "e": the mean accuracy drops by a fifth, "a" drops to 0
    drifted = reference.score(repeated[torch.tensor([1, 1, 2, 3, 4])].repeat(6, 1), torch.arange(5).repeat(6))
    assert drifted.label_accuracy["a"] == 0 and drifted.label_accuracy["e"] == 1.0
    assert max(one_each.label_spread.values()) < 1e-6


def test_model_selection_never_sees_the_held_out_clips(recipe):
    """The trainer's evaluations (which pick best.pt) score against training clips; only
    `ganaudio evaluate`'s figures use the held-out ones."""
    reference = Reference.for_recipe(recipe)
    clips = read_audio_clips(recipe)
    train = torch.tensor([s == "train" for s in clips.splits])
    selection, heldout = reference.selection.embeddings, reference.heldout.embeddings
    assert len(selection) == len(heldout) == 30
    assert all(bool((reference.train_embeddings == row).all(1).any()) for row in selection)
    assert not any(bool((heldout == row).all(1).any()) for row in selection)
    assert torch.equal(reference.selection.labels, clips.labels[train][evaluate_module.fixed_subset(int(train.sum()), 30)])
    # the same clips score differently against each set: the evaluator's figures are the selection's
    samples = clips.waveforms[train][:30]
    evaluator = TrainingEvaluator(recipe, {}, vocoder=IdentityDecoder())
    figures = evaluator(samples, clips.labels[train][:30])
    assert evaluator.measure.endswith("against 30 training clips, decoded by nothing (waveforms pass through)")
    against_selection = reference.score(samples, clips.labels[train][:30], against=reference.selection)
    against_heldout = reference.score(samples, clips.labels[train][:30])
    assert figures["eval/frechet_distance"] == against_selection.frechet_distance != against_heldout.frechet_distance
    assert figures["eval/recall"] == against_selection.recall


class IdentityDecoder:
    """A vocoder stand-in that hands its input back: the evaluator then scores waveforms."""

    description = "nothing (waveforms pass through)"

    def __call__(self, samples: torch.Tensor) -> torch.Tensor:
        return samples


def test_a_model_is_scored_only_against_data_with_its_labels(recipe):
    """One check for `ganaudio evaluate` and `augment --filter`: a conditional model's label
    names must be the data's (an unconditional model has none)."""
    reference = Reference.for_recipe(recipe)
    reference.require_labels(["a", "e", "i", "o", "u"], "model.pt")
    reference.require_labels([], "model.pt")
    with pytest.raises(UserError, match=r"^model.pt: the model's labels \(0, 1\) are not the data's \(a, e, i, o, u\)"):
        reference.require_labels(["0", "1"], "model.pt")
    with pytest.raises(UserError, match="are not the data's"):
        reference.require_labels(["e", "a", "i", "o", "u"], "model.pt")  # same names, other order


def test_the_classifier_is_cached_and_reused(recipe, shared_cache, monkeypatch):
    first = Reference.for_recipe(recipe)
    assert list((shared_cache / "classifiers").glob("synthetic-voice-*.pt"))

    def no_training(*args, **kwargs):
        raise AssertionError("the cached classifier was not reused")

    monkeypatch.setattr(evaluate_module, "_train_reference", no_training)
    again = Reference.for_recipe(recipe)
    assert again.real == first.real
    assert torch.equal(again.heldout.embeddings, first.heldout.embeddings)


def test_the_classifier_cache_ignores_gan_settings_but_not_its_own(recipe, shared_cache, monkeypatch):
    Reference.for_recipe(recipe)

    def retrained(*args):
        raise AssertionError("retrained")

    monkeypatch.setattr(evaluate_module, "_train_reference", retrained)
    other_mels = voice_recipe(f"data.cache_dir={shared_cache}", "features.n_mels=24", "model.width=8")
    Reference.for_recipe(other_mels)  # same clips: same classifier
    # A model from before data.holdout_every defaulted to 10 (the bundled one did until 2026-12-04): the setting means
    # nothing outside folders, so it is scored by the classifier its training run had
    older = voice_recipe(f"data.cache_dir={shared_cache}", "data.holdout_every=0")
    Reference.for_recipe(older)
    with pytest.raises(AssertionError, match="retrained"):
        Reference.for_recipe(recipe, epochs=3)
    with pytest.raises(AssertionError, match="retrained"):
        Reference.for_recipe(voice_recipe(f"data.cache_dir={shared_cache}", "data.num_clips=200"))


def test_data_without_labels_or_held_out_clips_cannot_be_evaluated(labelled_folder, tmp_path, capsys):
    unlabelled = load_recipe("voice", [*TINY_MEL, "data.labels=none"], data_root=str(labelled_folder))
    with pytest.raises(UserError, match="needs labelled data"):
        Reference.for_recipe(unlabelled)
    no_heldout = load_recipe("voice", TINY_MEL, data_root=str(labelled_folder))
    with pytest.raises(UserError, match="needs at least 20 held-out real samples"):
        Reference.for_recipe(no_heldout)
    # training goes on without evaluation, and says so
    args = ["train", "voice", "--data", str(labelled_folder), "--out", str(tmp_path / "run")]
    for override in [*TINY_MEL, *TINY_MODEL, *TINY_TRAIN, "train.eval_every=2", "train.steps=2"]:
        args += ["--set", override]
    assert main(args) == 0
    assert "evaluation during training is off" in capsys.readouterr().out
    assert not (tmp_path / "run" / BEST).exists()


def test_the_figures_on_known_inputs():
    one_hot = torch.eye(5).repeat(2000, 1)  # confident and balanced: the score is the class count
    assert inception_score(one_hot)[0] == pytest.approx(5.0, rel=0.01)
    assert inception_score(torch.full((100, 5), 0.2))[0] == pytest.approx(1.0)
    a = torch.randn(500, 4, generator=torch.Generator().manual_seed(0))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    assert frechet_distance(a + torch.tensor([3.0, 0, 0, 0]), a) == pytest.approx(9.0, rel=1e-6)
    b = torch.randn(400, 4, generator=torch.Generator().manual_seed(1)) * torch.tensor([1.0, 2.0, 0.5, 3.0])
    cov_a, cov_b = np.cov(a.double().numpy(), rowvar=False), np.cov(b.double().numpy(), rowvar=False)
    expected = ((a.double().mean(0) - b.double().mean(0)) ** 2).sum().item() + np.trace(
        cov_a + cov_b - 2 * linalg.sqrtm(cov_a @ cov_b).real)
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-6)  # the textbook formula
    same, shifted = precision_recall(a, a), precision_recall(a + 100.0, a)
    assert same == (1.0, 1.0) and shifted == (0.0, 0.0)
    one_point = a[:1].repeat(50, 1)  # a real point repeated: all inside the real balls, covering almost none
    precision, recall = precision_recall(one_point, a)
    assert precision == 1.0 and recall < 0.05
    labels = torch.arange(500) % 2
    half = torch.where(labels[:, None] == 0, a, 0.5 * a)  # label 1 at half the distances
    assert label_spreads(half, labels, a, labels, ["x", "y"]) == pytest.approx({"x": 1.0, "y": 0.5})
    assert label_spreads(half, None, half, labels, ["x", "y"]) == {"all": 1.0}
    assert set(label_spreads(half[:3], labels[:3], a, labels, ["x", "y"])) == {"x"}  # one "y": left out
    waves = torch.stack([torch.zeros(800), 0.5 * torch.ones(800), 1.5 * torch.sin(torch.arange(800.0))])
    assert silent_fraction(waves) == pytest.approx(1 / 3) and clipped_fraction(waves) == pytest.approx(1 / 3)


def test_signal_statistics_hear_timbre_and_where_the_attack_is():
    """A decaying noise burst and the same burst reversed have one timbre (MFCC statistics)
    and opposite loudness envelopes; a low tone has another timbre."""
    generator = torch.Generator().manual_seed(0)
    hit = torch.randn(8000, generator=generator) * torch.exp(-torch.arange(8000) / 800)
    low = torch.sin(2 * torch.pi * 200 * torch.arange(8000) / 8000) * torch.exp(-torch.arange(8000) / 800)
    raw = SignalStatistics(8000).raw(torch.stack([hit, hit.flip(0), low]))
    timbre, envelope = raw[:, :40], raw[:, 40:]
    assert (timbre[0] - timbre[1]).abs().max() < 0.1 * (timbre[0] - timbre[2]).abs().max()
    assert envelope[0, 0] - envelope[0, -1] > 20 and envelope[1, -1] - envelope[1, 0] > 20  # dB


def test_signal_statistics_do_not_hear_what_no_listener_would():
    """A word padded with digital zeros and the same word with hiss 100 dB down in the padding
    sound alike and score alike; hiss 40 dB down is heard."""
    generator = torch.Generator().manual_seed(0)
    word = torch.zeros(8000)
    word[3000:5000] = 0.5 * torch.randn(2000, generator=generator) * torch.hann_window(2000)
    padding = torch.ones(8000, dtype=torch.bool)
    padding[3000:5000] = False
    hiss = torch.randn(8000, generator=generator) * padding

    def edges(clips):  # dB of the loudness in the first and last eighth
        return SignalStatistics(8000).raw(torch.stack(clips))[:, [40, 47]]

    quiet = edges([word, word + 10 ** (-100 / 20) * hiss])
    loud = edges([word, word + 10 ** (-40 / 20) * hiss])
    assert (quiet[1] - quiet[0]).abs().max() < 0.5
    assert (loud[1] - loud[0]).min() > 10


def test_a_dimension_constant_in_real_data_does_not_dominate_the_statistics():
    """MNIST's corners are blank in every real image: a generated image a shade off there must
    not look far from real on that account."""
    real = torch.rand(200, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    real[..., :4, :4] = -1.0
    statistics = SignalStatistics(None)
    statistics.fit(real)
    assert (statistics(real + 0.002) - statistics(real)).abs().max() < 0.5


def test_the_measure_tells_learned_vocoders_apart_by_their_weights(recipe):
    """Two vocoders with the same steps and iterations but other weights: best.pt scored
    through one must not be compared with figures through the other."""
    features = MelFeatures(recipe.features)
    vocoders = []
    for seed in (0, 0, 1):
        torch.manual_seed(seed)
        vocoders.append(LearnedVocoder(build_net(recipe.features, recipe.vocoder), features, n_iter=4, step=10))
    measures = [TrainingEvaluator(recipe, {}, vocoder=vocoder).measure for vocoder in vocoders]
    assert vocoders[0].description == vocoders[2].description
    assert measures[0] == measures[1] != measures[2]


@pytest.fixture(scope="module")
def evaluated_run(tmp_path_factory, shared_cache):
    """A tiny voice run that evaluates every 2 steps (so it keeps a best.pt)."""
    run = tmp_path_factory.mktemp("run")
    recipe = voice_recipe(f"data.cache_dir={shared_cache}", "train.eval_every=2", "train.eval_samples=20")
    dataset = load_dataset(recipe)
    trainer = Trainer(recipe, dataset, run, evaluate=TrainingEvaluator(recipe, dataset.feature_state))
    trainer.fit()
    return run, trainer


def test_a_trained_models_clips_come_out_as_the_labels_asked_for(evaluated_run, recipe):
    """Label-correct audio from a model other than the bundled one: the run's synthesizer, its
    generator standing in for a perfect one (it returns real training features of the label it
    is given), must give clips the evaluation classifier hears as the labels asked for by name,
    through the run's feature statistics and Griffin-Lim. A wrong label order, names or inverse
    fails it."""
    run, _ = evaluated_run
    synth = Synthesizer.from_checkpoint(str(run))
    dataset = load_dataset(recipe)
    by_label = [dataset.samples[dataset.labels == k][:8] for k in range(len(dataset.label_names))]

    class PerfectGenerator(torch.nn.Module):
        latent_dim = synth.generator.latent_dim

        def forward(self, z, labels):
            return torch.stack([by_label[int(k)][int(abs(v) * 1000) % 8] for k, v in zip(labels, z[:, 0])])

    synth.generator = PerfectGenerator()
    asked = ["u", "a", "i", "e", "o"] * 4
    made = synth.generate(len(asked), labels=asked, seed=0)
    assert made.labels == asked
    reference = Reference.for_recipe(recipe)
    intended = torch.tensor([reference.label_names.index(name) for name in asked])
    assert reference.score(made.samples, intended).accuracy >= 0.9
    assert reference.score(made.samples, intended.roll(1)).accuracy <= 0.3


def test_training_evaluates_logs_plots_and_keeps_the_best(evaluated_run):
    run, trainer = evaluated_run
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    evaluations = [row for row in rows if "eval/frechet_distance" in row]
    assert [row["step"] for row in evaluations] == [2, 4]
    assert {"eval/accuracy", "eval/inception_score", "eval/nearest_neighbour_ratio", "eval/silent",
            "eval/signal_frechet_distance", "eval/precision", "eval/recall", "eval/least_label_spread",
            "eval/least_label_accuracy"} <= set(evaluations[0])
    best = min(evaluations, key=lambda row: row["eval/frechet_distance"])
    state = load_checkpoint(run / BEST)
    assert state["step"] == best["step"] == trainer.best_step
    assert state["evaluation"]["eval/frechet_distance"] == best["eval/frechet_distance"]
    assert (run / "evaluation.png").stat().st_size > 0


def test_best_is_replaced_only_by_a_lower_distance_and_survives_resume(tmp_path):
    recipe = voice_recipe("train.eval_every=1", "train.steps=3", "train.checkpoint_every=1")
    dataset = load_dataset(recipe)
    distances = iter([5.0, 2.0, 3.0, 1.0])
    fake = lambda samples, labels: {"eval/frechet_distance": next(distances)}  # noqa: E731
    trainer = Trainer(recipe, dataset, tmp_path, evaluate=fake)
    trainer.fit()
    assert load_checkpoint(tmp_path / BEST)["step"] == 2
    resumed = Trainer(load_recipe("voice", [*VOICE, "train.eval_every=1", "train.steps=4"]), dataset, tmp_path, evaluate=fake)
    resumed.resume()
    assert resumed.loop.best_score == 2.0 and len(resumed.loop.evaluations) == 3
    resumed.fit()  # step 4 scores 1.0: the new best
    assert load_checkpoint(tmp_path / BEST)["step"] == 4


def test_evaluate_cli_prints_and_writes_json(evaluated_run, tmp_path, capsys):
    run, _ = evaluated_run
    out = tmp_path / "scores.json"
    assert main(["evaluate", "--checkpoint", str(run), "--n", "20", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert str(run / BEST) in printed and "real held-out" in printed and "real via vocoder" in printed
    assert "precision (fidelity)" in printed and "Spread per label, generated (from 150 samples): " in printed
    figures = json.loads(out.read_text())
    assert figures["generated"]["count"] == 20 and figures["real"]["count"] == 30
    assert set(figures) == {"checkpoint", "generated", "real", "real_vocoded", "decoder", "temperature", "spread_count"}
    assert figures["spread_count"] == 150
    assert figures["temperature"] == 1.0 and "Generated at temperature" not in printed
    assert figures["decoder"].startswith("Griffin-Lim") and "decoded by Griffin-Lim" in printed
    assert 0 <= figures["generated"]["accuracy"] <= 1 and figures["generated"]["frechet_distance"] > 0
    assert 0 <= figures["generated"]["recall"] <= 1 and set(figures["real"]["label_spread"]) <= set("aeiou")
    assert main(["evaluate", "--checkpoint", str(run), "--n", "20", "--json", str(out), "--temperature", "1.5"]) == 0
    assert json.loads(out.read_text())["temperature"] == 1.5
    assert "Generated at temperature 1.5: latent noise 1.5 times as spread" in capsys.readouterr().out


def test_each_labels_spread_is_measured_on_enough_samples_whatever_n(evaluated_run, monkeypatch):
    """At --n 20 over 5 labels a label has 4 samples, whose 6 pairs make a spread that swings
    with the latent seed; the spread must come from SPREAD_PER_LABEL a label, the other figures
    from the n asked for. With n large enough, no second draw."""
    run, _ = evaluated_run
    measured = []

    def spy(samples, labels, real, real_labels, names):
        measured.append(torch.bincount(labels, minlength=len(names)).tolist())
        return label_spreads(samples, labels, real, real_labels, names)

    monkeypatch.setattr(evaluate_module, "label_spreads", spy)
    small = evaluate_module.evaluate_checkpoint(str(run), n=20)
    assert small.generated.count == 20 and small.spread_count == 5 * evaluate_module.SPREAD_PER_LABEL
    assert measured[0] == [evaluate_module.SPREAD_PER_LABEL] * 5
    assert set(small.generated.label_spread) == set(small.real.label_spread)
    large = evaluate_module.evaluate_checkpoint(str(run), n=150)
    assert large.generated.count == 150 and large.spread_count is None


@pytest.mark.parametrize("args, message", [
    (["--n", "5"], "n: evaluation needs at least 20 samples (10 inception-score splits), got 5"),
    (["--json", "scores.txt"], "--json writes a .json file"),
    (["--json", "missing/scores.json"], "does not exist"),
    (["--checkpoint", "nowhere.pt"], "nowhere.pt: checkpoint not found"),
    (["--temperature", "-2"], "temperature: must be a positive number, got -2.0"),
])
def test_evaluate_cli_bad_input_is_one_line_and_exit_2(evaluated_run, args, message, tmp_path, monkeypatch, capsys):
    run, _ = evaluated_run
    monkeypatch.chdir(tmp_path)
    argv = ["evaluate", *args] if "--checkpoint" in args else ["evaluate", "--checkpoint", str(run), *args]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_bundled_model_scores_near_real_fsdd(fsdd_dir):
    """The bundled digits model against real FSDD, through audio (a 4-epoch classifier keeps it short)."""
    synth = Synthesizer.from_checkpoint()
    recipe = dataclasses.replace(synth.recipe, data=dataclasses.replace(synth.recipe.data, root=str(fsdd_dir)))
    reference = Reference.for_recipe(recipe, epochs=4)
    assert reference.real.accuracy >= 0.9
    made = synth.generate(200, seed=0, level=False)
    scores = reference.score(made.samples, synth.label_indices(None, 200))
    # A 4-epoch classifier is less forgiving of Griffin-Lim than the full one (0.96 there; chance is 0.1)
    assert scores.accuracy >= 0.6 and scores.nearest_neighbour_ratio >= 0.9


def test_image_reference_reads_pixels(mnist_dir, tmp_path):
    """MNIST: the classifier reads pixels; real images score like the held-out ones, noise badly."""
    recipe = load_recipe("mnist", [f"data.cache_dir={tmp_path}"], data_root=str(mnist_dir))
    reference = Reference.for_recipe(recipe, epochs=1)
    assert not reference.is_audio and reference.real.accuracy >= 0.9 and reference.real.silent is None
    train = load_dataset(recipe, "train")
    real = reference.score(train.samples[:500], train.labels[:500])
    noise = reference.score(torch.rand(500, 1, 28, 28) * 2 - 1, train.labels[:500])
    assert real.accuracy >= 0.9 and noise.accuracy <= 0.3
    assert noise.frechet_distance > 10 * real.frechet_distance
    assert noise.signal_frechet_distance > 10 * real.signal_frechet_distance and noise.precision < real.precision


def test_a_best_newer_than_the_resumed_checkpoint_is_kept(tmp_path):
    recipe = voice_recipe("train.eval_every=1", "train.steps=3", "train.checkpoint_every=1")
    dataset = load_dataset(recipe)
    distances = iter([5.0, 2.0, 1.0, 4.0])
    fake = lambda samples, labels: {"eval/frechet_distance": next(distances)}  # noqa: E731
    Trainer(recipe, dataset, tmp_path, evaluate=fake).fit()
    (tmp_path / "checkpoint-0000003.pt").unlink()  # killed after best.pt at step 3, before its checkpoint
    resumed = Trainer(recipe, dataset, tmp_path, evaluate=fake)
    assert resumed.resume() == 2
    assert (resumed.loop.best_step, resumed.loop.best_score) == (3, 1.0)
    resumed.fit()  # step 3 again scores 4.0: best.pt stays the first run's step 3
    assert load_checkpoint(tmp_path / BEST)["evaluation"]["eval/frechet_distance"] == 1.0


class MeasuredFake:
    """A fake evaluator with a `measure`, like TrainingEvaluator's."""

    def __init__(self, measure, distances):
        self.measure, self.distances = measure, iter(distances)

    def __call__(self, samples, labels):
        return {"eval/frechet_distance": next(self.distances)}


def test_a_best_scored_under_another_measure_is_set_aside_not_compared(tmp_path, capsys):
    recipe = voice_recipe("train.eval_every=1", "train.steps=2", "train.checkpoint_every=1")
    dataset = load_dataset(recipe)
    Trainer(recipe, dataset, tmp_path, evaluate=MeasuredFake("against held-out clips", [5.0, 1.0])).fit()
    longer = load_recipe("voice", [*VOICE, "train.eval_every=1", "train.steps=3"])
    resumed = Trainer(longer, dataset, tmp_path, evaluate=MeasuredFake("against training clips", [4.0]))
    resumed.resume()
    assert "renamed it best-step0000002-earlier-measure.pt" in capsys.readouterr().err
    assert resumed.loop.best_score == math.inf and resumed.loop.evaluations == []
    resumed.fit()  # 4.0 is worse than the old 1.0, but the old figure was another measure's
    best = load_checkpoint(tmp_path / BEST)
    assert (best["step"], best["measure"]) == (3, "against training clips")
    earlier = load_checkpoint(tmp_path / "best-step0000002-earlier-measure.pt")
    assert earlier["evaluation"]["eval/frechet_distance"] == 1.0


def test_a_resume_without_evaluation_leaves_best_alone(tmp_path):
    recipe = voice_recipe("train.eval_every=1", "train.steps=2", "train.checkpoint_every=1")
    dataset = load_dataset(recipe)
    Trainer(recipe, dataset, tmp_path, evaluate=MeasuredFake("against training clips", [5.0, 1.0])).fit()
    Trainer(load_recipe("voice", [*VOICE, "train.steps=3"]), dataset, tmp_path).resume()
    assert load_checkpoint(tmp_path / BEST)["step"] == 2 and len(list(tmp_path.glob("best*.pt"))) == 1


def test_setting_best_aside_twice_at_one_step_keeps_both(tmp_path):
    run = RunFolder(tmp_path)
    for content in (b"first", b"second"):
        run.best_file.write_bytes(content)
        run.set_aside_best(7)
    assert not run.best_file.exists()
    assert (tmp_path / "best-step0000007-earlier-measure.pt").read_bytes() == b"first"
    assert (tmp_path / "best-step0000007-earlier-measure-2.pt").read_bytes() == b"second"
