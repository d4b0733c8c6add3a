"""Synthesis: a checkpoint (or exported generator) becomes WAVs or PNGs, repeatably, per label,
and every bad input is one clear error with nothing half-written."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile
import torch

from ganaudio.checkpoint import GENERATOR_KIND, export_generator, load_checkpoint
from ganaudio.cli import main
from ganaudio.config import load_recipe
from ganaudio.data import load_dataset
from ganaudio.errors import UserError
from ganaudio.synth import BUNDLED_DIGITS, Synthesizer
from ganaudio.train import Trainer
from tests.test_train import TINY_MEL, TINY_MODEL, TINY_TRAIN

CLIP_SAMPLES = 2048  # TINY_MEL: 0.256 s at 8 kHz


@pytest.fixture(scope="module")
def voice_checkpoint(tmp_path_factory):
    """A tiny conditional voice model (labels a, e, i, o, u) trained for a few steps."""
    run = tmp_path_factory.mktemp("voice-run")
    recipe = load_recipe("voice", ["data.num_clips=20", *TINY_MEL, *TINY_MODEL, *TINY_TRAIN,
                                   f"data.cache_dir={run / 'cache'}"])
    return Trainer(recipe, load_dataset(recipe), run).fit()


def test_a_run_folder_loads_its_best_checkpoint_else_its_newest(voice_checkpoint, tmp_path):
    expected = Synthesizer.from_checkpoint(voice_checkpoint).generate(2, seed=3).samples
    newest = Synthesizer.from_checkpoint(voice_checkpoint.parent).generate(2, seed=3).samples
    assert torch.equal(newest, expected)
    run = tmp_path / "run"
    run.mkdir()
    with pytest.raises(UserError, match="no checkpoint in this folder"):
        Synthesizer.from_checkpoint(run)
    (run / "checkpoint-0000009.pt").write_bytes(b"not a checkpoint")  # newer, but best.pt wins
    (run / "best.pt").write_bytes(voice_checkpoint.read_bytes())
    assert torch.equal(Synthesizer.from_checkpoint(str(run)).generate(2, seed=3).samples, expected)
    exported = export_generator(run, tmp_path / "small.pt")
    assert Synthesizer.from_checkpoint(exported).labels == ["a", "e", "i", "o", "u"]


def test_generate_gives_levelled_waveforms_of_the_clip_length(voice_checkpoint):
    synth = Synthesizer.from_checkpoint(voice_checkpoint)
    assert synth.labels == ["a", "e", "i", "o", "u"] and synth.sample_rate == 8000
    made = synth.generate(3, labels="e", seed=5)
    assert made.samples.shape == (3, CLIP_SAMPLES) and made.labels == ["e", "e", "e"]
    peaks = made.samples.abs().amax(dim=1)
    assert torch.allclose(peaks, torch.full((3,), 10 ** (-1 / 20)), atol=1e-3)  # levelled to -1 dBFS


def test_levelling_is_one_gain_per_clip_and_the_wav_holds_it_unclipped(voice_checkpoint, tmp_path):
    """Levelling scales each clip (no limiter, no clamp), and the WAV on disk is that clip up
    to 16-bit rounding: nothing is clipped on the way."""
    synth = Synthesizer.from_checkpoint(voice_checkpoint)
    raw = synth.generate(3, labels="o", seed=9, level=False).samples
    levelled = synth.generate(3, labels="o", seed=9)
    gains = levelled.samples.abs().amax(dim=1) / raw.abs().amax(dim=1)
    assert torch.allclose(levelled.samples, raw * gains[:, None], atol=1e-6)
    for path, clip in zip(synth.save(levelled, tmp_path / "clips"), levelled.samples):
        written, rate = soundfile.read(path, dtype="float32")
        assert rate == 8000 and float(abs(written - clip.numpy()).max()) <= 1 / 32768 + 1e-6


def test_the_seed_repeats_and_labels_are_honoured(voice_checkpoint):
    synth = Synthesizer.from_checkpoint(voice_checkpoint)
    first, again = synth.generate(2, labels="a", seed=3), synth.generate(2, labels="a", seed=3)
    assert torch.equal(first.samples, again.samples) and first.seed == 3
    assert not torch.equal(first.features, synth.generate(2, labels="a", seed=4).features)
    assert not torch.equal(first.features, synth.generate(2, labels="o", seed=3).features)
    assert synth.generate(7, seed=0).labels == ["a", "e", "i", "o", "u", "a", "e"]
    assert synth.generate(2, labels=["u", "i"], seed=0).labels == ["u", "i"]


def test_unknown_label_and_bad_counts_are_user_errors(voice_checkpoint):
    synth = Synthesizer.from_checkpoint(voice_checkpoint)
    with pytest.raises(UserError, match=r"label '7': this model has no such label \(labels: a, e, i, o, u\)"):
        synth.generate(1, labels="7")
    with pytest.raises(UserError, match="n: must be at least 1"):
        synth.generate(0)


def test_save_writes_one_file_a_folder_or_numbered_files(voice_checkpoint, tmp_path):
    synth = Synthesizer.from_checkpoint(voice_checkpoint)
    assert synth.save(synth.generate(1, seed=0), tmp_path / "one.wav") == [tmp_path / "one.wav"]
    paths = synth.save(synth.generate(2, labels="i", seed=0), tmp_path / "clips")
    assert [p.name for p in paths] == ["sample-0000-i.wav", "sample-0001-i.wav"]
    paths = synth.save(synth.generate(2, seed=0), tmp_path / "gen.wav")
    assert [p.name for p in paths] == ["gen-0000-a.wav", "gen-0001-e.wav"]
    audio, rate = soundfile.read(paths[1])
    assert rate == 8000 and audio.shape == (CLIP_SAMPLES,) and np.abs(audio).max() > 0.5


def test_exported_generator_is_small_and_sounds_the_same(voice_checkpoint, tmp_path):
    exported = export_generator(voice_checkpoint, tmp_path / "voice.pt")
    assert exported.stat().st_size < voice_checkpoint.stat().st_size / 2
    full, small = Synthesizer.from_checkpoint(voice_checkpoint), Synthesizer.from_checkpoint(exported)
    a, b = full.generate(2, labels="u", seed=1).features, small.generate(2, labels="u", seed=1).features
    assert (a - b).abs().max() < 0.02  # float16 weights
    with pytest.raises(UserError, match="exported generator, not a training checkpoint"):
        load_checkpoint(exported)
    # A file to share holds no path of the machine that made it.
    assert load_checkpoint(voice_checkpoint)["recipe"]["data"]["cache_dir"] is not None
    for model in (exported, BUNDLED_DIGITS):
        data = load_checkpoint(model, kinds=(GENERATOR_KIND,))["recipe"]["data"]
        assert data["root"] is None and data["cache_dir"] is None, model


def test_cli_synth_writes_and_reports(voice_checkpoint, tmp_path, capsys):
    out = tmp_path / "gen.wav"
    assert main(["synth", "--checkpoint", str(voice_checkpoint.parent), "--out", str(out), "--label", "o",
                 "--seed", "9", "--griffin-lim-iters", "4", "--plot", str(tmp_path / "gen.png")]) == 0
    printed = capsys.readouterr().out
    assert str(out) in printed and "label o" in printed and "seed 9" in printed
    assert soundfile.info(out).samplerate == 8000 and (tmp_path / "gen.png").stat().st_size > 0
    assert main(["synth", "--checkpoint", str(voice_checkpoint), "--out", str(tmp_path / "many"), "--n", "3"]) == 0
    assert len(list((tmp_path / "many").glob("*.wav"))) == 3


@pytest.mark.parametrize("args, message", [
    (["--n", "0"], "n: must be at least 1, got 0"),
    (["--label", "z"], "no such label"),
    (["--out", "{tmp}/missing/gen.wav"], "folder {tmp}/missing does not exist"),
    (["--out", "{tmp}/gen.png"], "an audio model writes .wav files"),
    (["--out", "{tmp}/a-file"], "is a file, not a folder"),
    (["--plot", "{tmp}/missing/g.png"], "does not exist"),
    (["--griffin-lim-iters", "0"], "must be positive"),
    (["--temperature", "0"], "temperature: must be a positive number, got 0.0"),
    (["--temperature", "nan"], "temperature: must be a positive number, got nan"),
])
def test_cli_synth_bad_input_is_one_line_and_exit_2(voice_checkpoint, tmp_path, capsys, args, message):
    (tmp_path / "a-file").write_text("mine")
    args = [a.format(tmp=tmp_path) for a in args]
    out = [] if "--out" in args else ["--out", str(tmp_path / "gen.wav")]
    assert main(["synth", "--checkpoint", str(voice_checkpoint), *out, *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ganaudio: error:") and message.format(tmp=tmp_path) in err and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"] and (tmp_path / "a-file").read_text() == "mine"


@pytest.mark.parametrize("content, message", [(None, "checkpoint not found"), (b"garbage", "not a readable checkpoint")])
def test_cli_synth_missing_or_corrupt_checkpoint(tmp_path, capsys, content, message):
    checkpoint = tmp_path / "model.pt"
    if content is not None:
        checkpoint.write_bytes(content)
    assert main(["synth", "--checkpoint", str(checkpoint), "--out", str(tmp_path / "gen.wav")]) == 2
    assert message in capsys.readouterr().err and not (tmp_path / "gen.wav").exists()


def test_a_failed_write_leaves_nothing_behind(voice_checkpoint, tmp_path, monkeypatch):
    synth = Synthesizer.from_checkpoint(voice_checkpoint)
    made = synth.generate(3, seed=0)
    calls = []

    def failing_write(path, waveform, rate):
        calls.append(path)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        soundfile.write(path, waveform.numpy(), rate, format="WAV")

    monkeypatch.setattr("ganaudio.synth.write_wav", failing_write)
    with pytest.raises(UserError, match="No space left on device"):
        synth.save(made, tmp_path / "clips")
    assert not (tmp_path / "clips").exists()


def test_image_model_writes_pngs(tmp_path, mnist_dir):
    recipe = load_recipe("mnist", [*TINY_MODEL, *TINY_TRAIN], data_root=str(mnist_dir))
    checkpoint = Trainer(recipe, load_dataset(recipe), tmp_path / "run").fit()
    synth = Synthesizer.from_checkpoint(checkpoint)
    made = synth.generate(2, labels="7", seed=0)
    assert not made.is_audio and made.samples.shape == (2, 28, 28) and made.samples.dtype == torch.uint8
    assert [p.name for p in synth.save(made, tmp_path / "digits")] == ["sample-0000-7.png", "sample-0001-7.png"]
    with pytest.raises(UserError, match="image model has no Griffin-Lim"):
        Synthesizer.from_checkpoint(checkpoint, griffin_lim_iters=8)
    assert main(["synth", "--checkpoint", str(checkpoint), "--out", str(tmp_path / "x.wav")]) == 2


@pytest.mark.skipif(not BUNDLED_DIGITS.is_file(), reason="the bundled digits model is not in this checkout")
def test_bundled_digits_model_says_a_digit(tmp_path):
    assert main(["synth", "--out", str(tmp_path / "gen.wav"), "--label", "3", "--seed", "0"]) == 0
    audio, rate = soundfile.read(tmp_path / "gen.wav")
    assert rate == 8000 and len(audio) == 6144 and np.abs(audio).max() > 0.5
    assert Synthesizer.from_checkpoint().labels == [str(d) for d in range(10)]


def test_export_can_set_the_griffin_lim_iterations_synthesis_uses(voice_checkpoint, tmp_path, capsys):
    out = tmp_path / "voice.pt"
    assert main(["export", str(voice_checkpoint), "--out", str(out), "--griffin-lim-iters", "7"]) == 0
    assert Synthesizer.from_checkpoint(out).recipe.features.griffin_lim_iters == 7
    assert main(["export", str(voice_checkpoint), "--out", str(tmp_path / "x.pt"), "--griffin-lim-iters", "0"]) == 2
    assert "must be positive" in capsys.readouterr().err and not (tmp_path / "x.pt").exists()


def test_temperature_scales_the_spread_of_what_is_made(voice_checkpoint):
    """One label, one seed: the clips differ only through z, so their spread grows with the
    temperature, and temperature 1 is the generator as trained (bit for bit)."""
    synth = Synthesizer.from_checkpoint(voice_checkpoint)
    assert synth.temperature == 1.0
    z = torch.randn(16, synth.generator.latent_dim, generator=torch.Generator().manual_seed(4))
    as_trained = synth.generator(z, synth.label_indices("a", 16)).float()
    assert torch.equal(synth.generate(16, labels="a", seed=4).features, as_trained)
    spreads = {}
    for temperature in (0.01, 1.0, 3.0):
        made = Synthesizer.from_checkpoint(voice_checkpoint, temperature=temperature).generate(16, labels="a", seed=4)
        spreads[temperature] = float(made.features.std(dim=0).mean())
        if temperature == 1.0:
            assert torch.equal(made.features, as_trained)
    assert spreads[0.01] < 0.2 * spreads[1.0] and spreads[3.0] > 1.2 * spreads[1.0], spreads


def test_export_stores_the_temperature_synthesis_uses(voice_checkpoint, tmp_path, capsys):
    out = tmp_path / "voice.pt"
    assert main(["export", str(voice_checkpoint), "--out", str(out), "--temperature", "1.25"]) == 0
    assert Synthesizer.from_checkpoint(out).temperature == 1.25
    assert Synthesizer.from_checkpoint(out, temperature=0.5).temperature == 0.5  # asked for, it wins
    again = tmp_path / "again.pt"  # an exported file exported again keeps its own
    assert main(["export", str(out), "--out", str(again)]) == 0
    assert Synthesizer.from_checkpoint(again).temperature == 1.25
    assert main(["export", str(out), "--out", str(tmp_path / "other.pt"), "--temperature", "0.9"]) == 0
    assert Synthesizer.from_checkpoint(tmp_path / "other.pt").temperature == 0.9  # asked for, it replaces the file's
    wav = tmp_path / "gen.wav"
    assert main(["synth", "--checkpoint", str(out), "--out", str(wav), "--seed", "2"]) == 0
    assert "temperature 1.25" in capsys.readouterr().out
    assert main(["export", str(voice_checkpoint), "--out", str(tmp_path / "x.pt"), "--temperature", "-1"]) == 2
    assert "temperature: must be a positive number" in capsys.readouterr().err and not (tmp_path / "x.pt").exists()
