"""Dataset augmentation: synthetic clip datasets, mixing, the batch transform and `ganaudio augment`."""

from __future__ import annotations

import csv
import math

import pytest
import soundfile
import torch

from ganaudio.augment import RealClips, SyntheticClips, SyntheticSubstitution, mix_with_synthetic
from ganaudio.cli import main
from ganaudio.config import load_recipe
from ganaudio.data import load_dataset
from ganaudio.errors import UserError
from ganaudio.evaluate import Reference
from ganaudio.train import Trainer
from tests.test_train import TINY_MEL, TINY_MODEL, TINY_TRAIN

CLIP_SAMPLES = 2048  # TINY_MEL: 0.256 s at 8 kHz
VOICE = ["data.num_clips=300", *TINY_MEL, *TINY_MODEL, *TINY_TRAIN]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("augment-cache")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, cache):
    """A tiny conditional vowel model (a, e, i, o, u), 300 clips of data, a few steps."""
    recipe = load_recipe("voice", [*VOICE, f"data.cache_dir={cache}"])
    return Trainer(recipe, load_dataset(recipe), tmp_path_factory.mktemp("run")).fit()


def test_synthetic_clips_are_labelled_waveforms_repeatable_from_the_seed(checkpoint):
    clips = SyntheticClips(checkpoint, per_class=3, seed=7, labels=["e", "o"])
    assert len(clips) == 6 and clips.sample_rate == 8000
    waveform, label = clips[4]
    assert waveform.shape == (CLIP_SAMPLES,) and label.dtype == torch.int64
    assert [clips.label_names[int(clips[i][1])] for i in range(6)] == ["e", "e", "e", "o", "o", "o"]
    with pytest.raises(IndexError):
        clips[6]


def test_clips_depend_on_seed_and_item_only_and_seeds_share_none(checkpoint):
    big = SyntheticClips(checkpoint, per_class=41, seed=7)  # 205 clips: two generator batches
    again = SyntheticClips(checkpoint, per_class=41, seed=7, cache=False)
    for item in (204, 0, 199, 200):  # any order, across the batch boundary
        assert torch.equal(again[item][0], big[item][0])
    other = SyntheticClips(checkpoint, per_class=41, seed=8)
    made = torch.stack([big[i][0] for i in range(205)])
    assert not any(torch.equal(other[i][0], clip) for i in (0, 200) for clip in made)


def test_bad_labels_and_counts_are_user_errors(checkpoint):
    with pytest.raises(UserError, match=r"label '7': this model has no such label"):
        SyntheticClips(checkpoint, per_class=1, labels=["a", "7"])
    with pytest.raises(UserError, match="per_class: must be at least 1"):
        SyntheticClips(checkpoint, per_class=0)


def test_real_and_synthetic_clips_mix_at_a_ratio(checkpoint, cache):
    real = RealClips(load_recipe("voice", [*VOICE, f"data.cache_dir={cache}"]), "train")
    assert len(real) == 270 and real.label_names == ["a", "e", "i", "o", "u"]
    synthetic = SyntheticClips(checkpoint, per_class=20)
    mixed = mix_with_synthetic(real, synthetic, ratio=0.25, seed=1)
    assert len(mixed) == 270 + 68
    for waveform, label in (mixed[0], mixed[len(mixed) - 1]):  # a real item and a synthetic one alike
        assert waveform.shape == (CLIP_SAMPLES,) and waveform.dtype == torch.float32 and label.dtype == torch.int64
    assert len(mix_with_synthetic(real, synthetic, ratio=0)) == 270
    assert len(mix_with_synthetic(real, synthetic)) == 270 + 90  # by default a quarter of the mix is synthetic
    with pytest.raises(UserError, match="asks for 540 synthetic clips"):
        mix_with_synthetic(real, synthetic, ratio=2)
    real.label_names = ["x", "y"]  # real data of other labels: indices would not match
    with pytest.raises(UserError, match="label_names: the real clips have"):
        mix_with_synthetic(real, synthetic, ratio=0.1)


def test_substitution_replaces_items_with_probability_p(checkpoint):
    samples = torch.randn(8, 2, 4000)  # stereo at 16 kHz, longer than the model's clips
    targets = torch.arange(8) % 5
    same, rate, kept = SyntheticSubstitution(checkpoint, p=0.0)(samples, 16000, targets)
    assert same is samples and rate == 16000 and kept is targets
    out, rate, kept = SyntheticSubstitution(checkpoint, p=1.0, seed=3)(samples, 16000, targets)
    assert out.shape == samples.shape and torch.equal(kept, targets)
    assert all(not torch.equal(out[i], samples[i]) for i in range(8))
    assert torch.equal(out[:, 0], out[:, 1])  # the mono clip on every channel
    repeat, _, _ = SyntheticSubstitution(checkpoint, p=1.0, seed=3)(samples, 16000, targets)
    assert torch.equal(repeat, out)
    batch = torch.randn(200, 1, 2048)
    half, _, _ = SyntheticSubstitution(checkpoint, p=0.5, seed=0)(batch, 8000, torch.zeros(200, dtype=torch.long))
    replaced = sum(not torch.equal(half[i], batch[i]) for i in range(200))
    assert 70 <= replaced <= 130  # binomial(200, 0.5): outside this, p is not being honoured
    quarter, _, _ = SyntheticSubstitution(checkpoint, seed=0)(batch, 8000, torch.zeros(200, dtype=torch.long))
    replaced = sum(not torch.equal(quarter[i], batch[i]) for i in range(200))
    assert 30 <= replaced <= 70  # the default p, a quarter: binomial(200, 0.25), mean 50, sd 6
    with pytest.raises(UserError, match=r"p: must be in \[0, 1\]"):
        SyntheticSubstitution(checkpoint, p=1.5)
    with pytest.raises(UserError, match=r"targets: label indices must be in \[0, 5\)"):
        SyntheticSubstitution(checkpoint, p=1.0)(batch[:2], 8000, torch.tensor([0, 5]))


def test_cli_writes_a_labelled_folder_that_the_folder_source_reads(checkpoint, tmp_path, capsys):
    out = tmp_path / "synthetic"
    assert main(["augment", "--checkpoint", str(checkpoint), "--per-class", "2", "--labels", "a,u",
                 "--out", str(out), "--seed", "4"]) == 0
    assert "wrote 4 clips" in (printed := capsys.readouterr().out) and "temperature 1)" in printed
    rows = list(csv.DictReader((out / "manifest.csv").open()))
    assert [(r["path"], r["label"], r["seed"], r["item"], r["temperature"]) for r in rows] == [
        ("a/a-00000.wav", "a", "4", "0", "1.0"), ("a/a-00001.wav", "a", "4", "1", "1.0"),
        ("u/u-00000.wav", "u", "4", "2", "1.0"), ("u/u-00001.wav", "u", "4", "3", "1.0")]
    audio, rate = soundfile.read(out / "u" / "u-00001.wav")
    assert rate == 8000 and audio.shape == (CLIP_SAMPLES,)
    # the manifest's seed and item remake the clip (up to 16-bit rounding)
    remade = SyntheticClips(checkpoint, per_class=2, seed=4, labels=["a", "u"])[3][0]
    assert torch.allclose(torch.from_numpy(audio).float(), remade, atol=1 / 2**15)
    dataset = load_dataset(load_recipe("voice", [*TINY_MEL, f"data.cache_dir={tmp_path / 'cache'}"], data_root=str(out)))
    assert dataset.label_names == ["a", "u"] and len(dataset) == 4
    # at another temperature the manifest says so, and the same row remakes its clip
    warm = tmp_path / "warm"
    assert main(["augment", "--checkpoint", str(checkpoint), "--per-class", "1", "--labels", "e",
                 "--out", str(warm), "--temperature", "1.5"]) == 0
    assert "temperature 1.5)" in capsys.readouterr().out
    row = next(csv.DictReader((warm / "manifest.csv").open()))
    assert row["temperature"] == "1.5"
    audio, _ = soundfile.read(warm / row["path"])
    remade = SyntheticClips(checkpoint, per_class=1, seed=0, labels=["e"], temperature=1.5)[0][0]
    as_trained = SyntheticClips(checkpoint, per_class=1, seed=0, labels=["e"])[0][0]
    assert torch.allclose(torch.from_numpy(audio).float(), remade, atol=1 / 2**15)
    assert not torch.allclose(remade, as_trained, atol=1e-3)


def test_cli_makes_a_quarter_of_real_plus_synthetic_by_default(checkpoint, cache, tmp_path, capsys):
    """Without --per-class: a third as many clips per label as the real training clips of the
    labels asked for, read from the model's data, so that synthetic clips are a quarter of the mix."""
    out = tmp_path / "default"
    assert main(["augment", "--checkpoint", str(checkpoint), "--labels", "a,e", "--out", str(out)]) == 0
    real = RealClips(load_recipe("voice", [*VOICE, f"data.cache_dir={cache}"]), "train")
    real_count = int(sum((real.labels == real.label_names.index(name)).sum() for name in ("a", "e")))
    rows = list(csv.DictReader((out / "manifest.csv").open()))
    per_label = {name: sum(row["label"] == name for row in rows) for name in ("a", "e")}
    assert per_label["a"] == per_label["e"] == math.ceil(real_count / 2 / 3)
    assert len(rows) / (len(rows) + real_count) == pytest.approx(0.25, abs=0.01)
    assert f"{per_label['a']} per label: a quarter of real + synthetic" in capsys.readouterr().out
    # sizing needs the real data of the model's labels: where there is none, or a label has no
    # clips there, or the label is unknown, one line, exit 2, nothing written
    other = tmp_path / "other"
    for vowel in ("a", "e"):
        (other / vowel).mkdir(parents=True)
        soundfile.write(other / vowel / "take.wav", 0.1 * torch.randn(4000).numpy(), 8000)
    for argv, message in ([["--data", str(tmp_path / "nowhere")], "nowhere"],
                          [["--data", str(other)], "no training clips of label i, o, u"],
                          [["--labels", "a,x"], "label 'x': this model has no such label"]):
        assert main(["augment", "--checkpoint", str(checkpoint), "--out", str(tmp_path / "none"), *argv]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1 and not (tmp_path / "none").exists()


@pytest.mark.parametrize("args, message", [
    (["--labels", "a,x"], "label 'x': this model has no such label"),
    (["--per-class", "0"], "per_class: must be at least 1, got 0"),
    (["--out", "missing/out"], "does not exist"),
    (["--out", "full"], "already exists and is not an empty folder"),
    (["--temperature", "0"], "temperature: must be a positive number, got 0.0"),
])
def test_cli_bad_input_is_one_line_exit_2_and_writes_nothing(checkpoint, tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "mine.txt").write_text("user data")
    argv = ["augment", "--checkpoint", str(checkpoint), "--per-class", "1", "--out", "new", *args]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full"]
    assert (tmp_path / "full" / "mine.txt").read_text() == "user data"


def test_quality_filter_drops_clips_the_classifier_does_not_hear_as_their_label(checkpoint, cache, tmp_path, capsys):
    out = tmp_path / "filtered"
    assert main(["augment", "--checkpoint", str(checkpoint), "--per-class", "4", "--out", str(out), "--filter",
                 "--seed", "3"]) == 0
    printed = capsys.readouterr().out
    dropped = int(printed.split("quality filter dropped ")[1].split(" of ")[0])
    rows = list(csv.DictReader((out / "manifest.csv").open()))
    assert len(rows) == 20 - dropped and "of 20: a " in printed
    assert all((out / row["path"]).is_file() for row in rows)
    # Kept are exactly the clips the evaluation classifier hears as their label, whatever share
    # that is for this tiny model: a filter keeping all or none would fail here.
    clips = SyntheticClips(checkpoint, per_class=4, seed=3)
    reference = Reference.for_recipe(clips.synth.recipe)
    heard = [int(reference.classify(reference.normalize(clip)[None])[0].argmax()) == int(label) for clip, label in
             (clips[i] for i in range(len(clips)))]
    assert sorted(int(row["item"]) for row in rows) == [i for i, right in enumerate(heard) if right]


def test_an_unwritable_out_folder_is_a_user_error_and_leaves_nothing(checkpoint, tmp_path, monkeypatch, capsys):
    import errno

    import ganaudio.augment as augment_module

    def disk_full(path, waveform, sample_rate):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(augment_module, "write_wav", disk_full)
    out = tmp_path / "synthetic"
    assert main(["augment", "--checkpoint", str(checkpoint), "--per-class", "1", "--out", str(out)]) == 2
    assert "synthetic: cannot write (No space left on device)" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
