"""The trainer on tiny data: every recipe runs, checkpoints resume exactly, runs are never lost."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys

import pytest
import soundfile
import torch

import ganaudio.gan as gan_module
from ganaudio.checkpoint import list_checkpoints, load_checkpoint
from ganaudio.cli import main
from ganaudio.config import load_recipe
from ganaudio.data import load_dataset
from ganaudio.errors import UserError
from ganaudio.gan import GanState, GanStep
from ganaudio.losses import mode_seeking_penalty
from ganaudio.runtime import Shard
from ganaudio.train import Trainer
from tests.helpers import tone, write_wav

TINY_MEL = ["features.clip_seconds=0.256", "features.n_fft=256", "features.hop_length=64", "features.n_mels=32"]
TINY_MODEL = ["model.width=4", "model.max_width=16", "model.latent_dim=8"]
TINY_TRAIN = ["train.batch_size=4", "train.critic_steps=2", "train.steps=4", "train.log_every=1",
              "train.sample_every=2", "train.checkpoint_every=2", "output.grid_samples=4", "output.wav_samples=2",
              "train.eval_every=0"]


def tiny_voice(*extra):
    return load_recipe("voice", ["data.num_clips=20", *TINY_MEL, *TINY_MODEL, *TINY_TRAIN, *extra])


def test_voice_recipe_trains_and_writes_everything(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "voice", "--out", str(out)]
    for override in ["data.num_clips=20", *TINY_MEL, *TINY_MODEL, *TINY_TRAIN]:
        args += ["--set", override]
    assert main(args) == 0
    names = {p.name for p in out.iterdir()}
    assert {"recipe.yaml", "metrics.jsonl", "losses.png", "samples-0000004.png", "checkpoint-0000004.pt"} <= names
    wavs = sorted(out.glob("samples-0000004-*.wav"))
    assert [w.name for w in wavs] == ["samples-0000004-0-a.wav", "samples-0000004-1-e.wav"]
    audio, rate = soundfile.read(wavs[0])
    assert rate == 8000 and len(audio) == 2048
    used = load_recipe("voice", ["data.num_clips=20", *TINY_MEL, *TINY_MODEL, *TINY_TRAIN])
    assert dataclasses.replace(load_recipe(out / "recipe.yaml"), name=used.name) == used  # saved as run
    lines = (out / "metrics.jsonl").read_text().splitlines()
    # the voice recipe's lazy R1 runs every 4th critic update: 2 per step here, so on even steps
    assert len(lines) == 4 and '"critic/r1"' in lines[1] and '"critic/r1"' not in lines[0] and '"gen/loss"' in lines[0]


@pytest.mark.parametrize("extra", [["train.loss=wgan-gp", "train.r1_weight=0", "train.penalty_every=1"],
                                   ["train.loss=hinge", "train.r1_weight=1.0", "train.penalty_every=2"],
                                   ["model.conditional=false"], ["model.conv=2d", "model.kernel_size=3", "train.ema_decay=0.5"]])
def test_losses_are_finite_for_each_loss_and_conditioning(tmp_path, extra):
    recipe = tiny_voice(*extra)
    trainer = Trainer(recipe, load_dataset(recipe), tmp_path)
    metrics = [trainer.train_step() for _ in range(3)]
    assert all(bool(torch.isfinite(v)) for m in metrics for v in m.values())
    assert ("critic/gp" in metrics[0]) == ("train.loss=wgan-gp" in extra)
    assert (trainer.state.num_classes == 0) == ("model.conditional=false" in extra)


def test_mnist_recipe_trains(tmp_path, mnist_dir):
    recipe = load_recipe("mnist", [*TINY_MODEL, *TINY_TRAIN], data_root=str(mnist_dir))
    trainer = Trainer(recipe, load_dataset(recipe), tmp_path)
    assert trainer.state.generator.depth == 2
    trainer.fit()
    assert load_checkpoint(list_checkpoints(tmp_path)[-1])["sample_shape"] == [1, 28, 28]


def test_digits_recipe_trains_on_real_clips(tmp_path, fsdd_dir, capsys):
    clips = tmp_path / "clips"
    clips.mkdir()
    for digit in range(10):  # 20 clips: a training take and a test take of each digit
        for take in (3, 30):
            shutil.copy(fsdd_dir / f"{digit}_theo_{take}.wav", clips / f"{digit}_theo_{take}.wav")
    args = ["train", "digits", "--data", str(clips), "--out", str(tmp_path / "run")]
    for override in [*TINY_MODEL, *TINY_TRAIN]:
        args += ["--set", override]
    assert main(args) == 0
    state = load_checkpoint(tmp_path / "run" / "checkpoint-0000004.pt")
    assert state["label_names"] == [str(d) for d in range(10)] and state["sample_shape"] == [1, 64, 64]
    assert set(state["feature_state"]) == {"mean", "std"}


def weights(trainer: Trainer) -> list[torch.Tensor]:
    return [p.detach().clone() for p in (*trainer.state.generator.parameters(), *trainer.state.generator_ema.parameters(),
                                         *trainer.state.critic.parameters())]


def fake_evaluation(samples: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    """Stands in for the classifier: what matters here is that evaluating touches no training state."""
    return {"eval/frechet_distance": float(samples.abs().mean())}


@pytest.mark.parametrize("extra", [[], ["train.diffaugment_shift=0.125", "train.diffaugment_cutout=0.25",
                                        "train.eval_every=1", "train.eval_samples=20"]],
                         ids=["plain", "diffaugment-and-evaluation"])
def test_resumed_run_ends_with_the_same_weights(tmp_path, extra):
    settings = ["train.ema_start=1", "train.penalty_every=2", "train.ema_decay=0.9", *extra]
    recipe = tiny_voice(*settings)
    dataset = load_dataset(recipe)
    evaluate = fake_evaluation if extra else None
    straight = Trainer(recipe, dataset, tmp_path / "straight", evaluate=evaluate)
    straight.fit()
    first_half = Trainer(tiny_voice(*settings, "train.steps=2"), dataset, tmp_path / "split", evaluate=evaluate)
    first_half.fit()
    resumed = Trainer(recipe, dataset, tmp_path / "split", evaluate=evaluate)
    assert resumed.resume() == 2
    resumed.fit()
    assert all(torch.equal(a, b) for a, b in zip(weights(straight), weights(resumed)))
    if extra:
        assert (tmp_path / "split" / "best.pt").is_file() and resumed.loop.best_score == straight.loop.best_score


def test_conditional_sampling_honours_labels(tmp_path):
    recipe = tiny_voice()
    trainer = Trainer(recipe, load_dataset(recipe), tmp_path)
    trainer.fit()
    threes, labels = trainer.state.sample(4, labels=torch.full((4,), 3), seed=7)
    assert labels.tolist() == [3, 3, 3, 3]
    z = torch.randn(4, 8, generator=torch.Generator().manual_seed(7))
    assert torch.allclose(threes, trainer.state.generator_ema(z, torch.full((4,), 3)))
    assert not torch.allclose(threes, trainer.state.sample(4, labels=torch.full((4,), 1), seed=7)[0])
    assert torch.equal(threes, trainer.state.sample(4, labels=torch.full((4,), 3), seed=7)[0])


def test_checkpoint_loads_in_a_fresh_process(tmp_path):
    recipe = tiny_voice()
    path = Trainer(recipe, load_dataset(recipe), tmp_path).fit()
    code = (
        "import sys, torch\n"
        "from ganaudio.checkpoint import load_checkpoint\n"
        "from ganaudio.config import recipe_from_dict\n"
        "from ganaudio.models import Generator\n"
        "s = load_checkpoint(sys.argv[1])\n"
        "r = recipe_from_dict(s['recipe'])\n"
        "g = Generator(r.model, tuple(s['sample_shape']), s['num_classes'])\n"
        "g.load_state_dict(s['generator_ema']); g.eval()\n"
        "x = g(torch.randn(2, r.model.latent_dim), torch.tensor([0, 4]))\n"
        "print(tuple(x.shape), s['label_names'])\n")
    result = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "(2, 1, 32, 32) ['a', 'e', 'i', 'o', 'u']" in result.stdout


def test_keeps_only_the_newest_checkpoints(tmp_path):
    recipe = tiny_voice("train.steps=8", "train.checkpoint_every=1", "train.keep_checkpoints=2")
    Trainer(recipe, load_dataset(recipe), tmp_path).fit()
    assert [p.name for p in list_checkpoints(tmp_path)] == ["checkpoint-0000007.pt", "checkpoint-0000008.pt"]
    assert not list(tmp_path.glob(".*tmp"))


def test_existing_run_is_never_overwritten_and_resume_needs_a_checkpoint(tmp_path, capsys):
    out = tmp_path / "run"
    base = ["train", "voice", "--out", str(out)]
    for override in ["data.num_clips=20", *TINY_MEL, *TINY_MODEL, *TINY_TRAIN]:
        base += ["--set", override]
    assert main([*base, "--resume"]) == 2
    assert "no checkpoint to resume from" in capsys.readouterr().err
    assert main(base) == 0
    before = (out / "checkpoint-0000004.pt").read_bytes()
    assert main(base) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert (out / "checkpoint-0000004.pt").read_bytes() == before
    assert main([*base, "--resume", "--set", "train.steps=6"]) == 0
    assert (out / "checkpoint-0000006.pt").is_file()


def test_resume_with_other_model_settings_is_refused(tmp_path):
    recipe = tiny_voice()
    Trainer(recipe, load_dataset(recipe), tmp_path).fit()
    inversion_only = tiny_voice("features.griffin_lim_iters=3", "train.steps=5")  # not a training setting
    assert Trainer(inversion_only, load_dataset(inversion_only), tmp_path).resume() == 4
    other = tiny_voice("model.width=8")
    with pytest.raises(UserError, match="other data, feature or model settings"):
        Trainer(other, load_dataset(other), tmp_path).resume()


def test_wrong_kind_of_checkpoint_is_a_user_error(tmp_path):
    path = tmp_path / "checkpoint-0000001.pt"
    torch.save({"weights": torch.zeros(2)}, path)
    with pytest.raises(UserError, match="not a ganaudio checkpoint"):
        load_checkpoint(path)
    path.write_bytes(b"\x00garbage")
    with pytest.raises(UserError, match="not a readable checkpoint"):
        load_checkpoint(path)


def test_tensorboard_scalars_are_written_beside_the_metrics(tmp_path):
    accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    Trainer(tiny_voice(), load_dataset(tiny_voice()), tmp_path).fit()
    events = accumulator.EventAccumulator(str(tmp_path))
    events.Reload()
    assert {"critic/wdist", "gen/loss", "critic/r1"} <= set(events.Tags()["scalars"])
    assert [e.step for e in events.Scalars("gen/loss")] == [1, 2, 3, 4]


def test_ema_generator_samples_with_batch_norm_statistics_of_its_own_weights(tmp_path):
    recipe = tiny_voice("train.ema_start=0", "train.ema_decay=0.5", "train.steps=6")
    trainer = Trainer(recipe, load_dataset(recipe), tmp_path)
    trainer.fit()
    norm_pairs = [(e, g) for e, g in zip(trainer.state.generator_ema.modules(), trainer.state.generator.modules())
                  if isinstance(e, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d))]
    assert norm_pairs and not any(torch.equal(e.running_mean, g.running_mean) for e, g in norm_pairs)
    saved = load_checkpoint(list_checkpoints(tmp_path)[-1])["generator_ema"]
    assert all(torch.equal(saved[k], v) for k, v in trainer.state.generator_ema.state_dict().items())
    # In eval mode the EMA generator matches what its own weights give with batch statistics
    # of a large batch, which is what the refreshed running statistics estimate.
    z, labels = torch.randn(512, 8, generator=torch.Generator().manual_seed(3)), torch.arange(512) % 5
    with torch.no_grad():
        eval_out = trainer.state.generator_ema(z, labels)
        trainer.state.generator_ema.train()
        batch_out = trainer.state.generator_ema(z, labels)
        trainer.state.generator_ema.eval()
    assert (eval_out - batch_out).abs().mean() < 0.05 * batch_out.abs().mean()


def test_ema_copies_the_generator_until_ema_start_then_averages_with_the_decay(tmp_path):
    trainer = Trainer(tiny_voice("train.ema_start=2", "train.ema_decay=0.75"), load_dataset(tiny_voice()), tmp_path)
    live, ema = list(trainer.state.generator.parameters()), list(trainer.state.generator_ema.parameters())
    with torch.no_grad():
        for p, q in zip(live, ema):
            p.fill_(1.0)
            q.fill_(0.0)
    trainer.state.step = 2  # up to ema_start the average is the generator itself
    trainer.train_step.update_ema()
    assert all(torch.equal(q, torch.ones_like(q)) for q in ema)
    with torch.no_grad():
        for q in ema:
            q.fill_(0.0)
    trainer.state.step = 3  # after it: ema <- 0.75 ema + 0.25 live
    trainer.train_step.update_ema()
    assert all(torch.allclose(q, torch.full_like(q, 0.25)) for q in ema)


def test_lazy_r1_runs_every_nth_critic_update_scaled_by_n(tmp_path):
    recipe = tiny_voice("train.loss=wgan-gp", "train.gp_weight=0", "train.r1_weight=0.5", "train.penalty_every=3")
    trainer = Trainer(recipe, load_dataset(recipe), tmp_path)
    steps = [{k: float(v) for k, v in trainer.train_step.critic_step().items()} for _ in range(6)]
    assert ["critic/r1" in s for s in steps] == [False, False, True, False, False, True]
    for s in steps:
        # The WGAN critic loss is -wdist; the penalty comes in at weight x penalty_every (StyleGAN2).
        expected = -s["critic/wdist"] + 0.5 * 3 * s.get("critic/r1", 0.0)
        assert s["critic/loss"] == pytest.approx(expected, rel=1e-5, abs=1e-6)


def test_mode_seeking_pairs_labels_and_adds_its_weighted_term(tmp_path, monkeypatch):
    recipe = tiny_voice("train.mode_seeking_weight=2")
    trainer = Trainer(recipe, load_dataset(recipe), tmp_path)
    asked, penalised = [], []
    trainer.state.generator.register_forward_hook(lambda module, inputs, output: asked.append(inputs[1]))
    monkeypatch.setattr(gan_module, "mode_seeking_penalty",
                        lambda fakes, latents: penalised.append(fakes) or mode_seeking_penalty(fakes, latents))
    metrics = {k: float(v) for k, v in trainer.train_step.generator_step().items()}
    assert torch.equal(asked[-1][:2], asked[-1][2:])  # both halves of the batch of 4 ask for the same labels
    assert penalised[0].requires_grad  # the term reaches the generator's weights
    assert metrics["gen/loss"] == pytest.approx(metrics["gen/adv"] + 2 / metrics["gen/mode_ratio"], rel=1e-4)
    plain = Trainer(tiny_voice(), load_dataset(recipe), tmp_path / "plain").train_step.generator_step()
    assert "gen/mode_ratio" not in plain


def test_mode_seeking_with_an_odd_batch_is_refused(tmp_path):
    with pytest.raises(UserError, match="train.mode_seeking_weight"):
        tiny_voice("train.mode_seeking_weight=1", "train.batch_size=3")
    recipe = tiny_voice("train.mode_seeking_weight=1", "train.batch_size=6")  # even, but 3 on each of 2 processes
    data = load_dataset(recipe)
    state = GanState(recipe, data, Shard(), torch.device("cpu"), autocast=False)
    with pytest.raises(UserError, match="train.mode_seeking_weight"):
        GanStep(state, recipe, data.samples, data.labels, Shard(rank=0, world_size=2))


def test_max_minutes_stops_early_with_a_checkpoint_of_the_last_step(tmp_path):
    recipe = tiny_voice("train.steps=1000", "train.max_minutes=0.0001", "train.log_every=1")
    trainer = Trainer(recipe, load_dataset(recipe), tmp_path)
    last = trainer.fit()
    assert 1 <= trainer.step < 1000
    assert last == list_checkpoints(tmp_path)[-1] and load_checkpoint(last)["step"] == trainer.step


def test_a_run_whose_data_moved_resumes_and_other_data_is_refused(tmp_path, labelled_folder):
    def folder_recipe(root, *extra):
        return load_recipe("voice", [*TINY_MEL, *TINY_MODEL, *TINY_TRAIN, "train.batch_size=2", *extra],
                           data_root=str(root))

    recipe = folder_recipe(labelled_folder)
    Trainer(recipe, load_dataset(recipe), tmp_path / "run").fit()
    moved = shutil.copytree(labelled_folder, tmp_path / "moved")  # new place, new file times
    shutil.rmtree(labelled_folder)
    there = folder_recipe(moved, "train.steps=6")
    assert Trainer(there, load_dataset(there), tmp_path / "run").resume() == 4
    write_wav(moved / "low" / "low_0.wav", tone(0.3, 8000, 440.0), 8000)  # another clip in its place
    changed = folder_recipe(moved, "train.steps=6")
    with pytest.raises(UserError, match="is not the data this run trained on"):
        Trainer(changed, load_dataset(changed), tmp_path / "run").resume()


def test_resume_compares_what_the_data_is_not_where_or_what_does_not_apply():
    from ganaudio.config import DataConfig

    fsdd = DataConfig(source="fsdd", root="/old/place", holdout_every=0)  # a checkpoint from before the default was 10
    assert fsdd.what_the_data_is() == DataConfig(source="fsdd", root="/new/place").what_the_data_is()
    assert DataConfig(holdout_every=0).what_the_data_is() != DataConfig().what_the_data_is()  # folders: it counts


def test_a_clip_length_from_the_data_is_what_the_run_keeps(tmp_path, labelled_folder):
    """features.clip_seconds: auto is decided once; recipe.yaml and the checkpoint hold the
    number, so synthesis makes clips of the length the model learned and resume compares it."""
    from ganaudio.checkpoint import load_checkpoint

    out = tmp_path / "run"
    args = ["train", "voice", "--data", str(labelled_folder), "--out", str(out)]
    for override in [*TINY_MEL, *TINY_MODEL, *TINY_TRAIN, "features.clip_seconds=auto"]:
        args += ["--set", override]
    assert main(args) == 0
    assert load_recipe(out / "recipe.yaml").features.clip_seconds == 0.512  # 62.5 frames of hop 64 -> 64
    assert load_checkpoint(out / "checkpoint-0000004.pt")["recipe"]["features"]["clip_seconds"] == 0.512
    assert main([*args, "--resume", "--set", "train.steps=6"]) == 0  # the files decide the same length again
