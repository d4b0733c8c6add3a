"""The folder source: labels from folders or names, mixed formats, and every bad file."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganaudio.config import recipe_from_dict
from ganaudio.data import load_dataset
from ganaudio.errors import UserError
from tests.helpers import tone, write_wav

FEATURES = {"sample_rate": 8000, "clip_seconds": 0.512, "n_fft": 256, "hop_length": 64, "n_mels": 32}


def folder_recipe(root, **data):
    return recipe_from_dict({"data": {"source": "folder", "root": str(root), **data}, "features": FEATURES})


def test_labels_from_sub_folders_with_mixed_rates_and_channels(labelled_folder):
    train = load_dataset(folder_recipe(labelled_folder))
    assert train.label_names == ["high", "low"]
    assert len(train) == 6 and train.sample_shape == (1, 32, 64)
    assert sorted(train.labels.tolist()) == [0, 0, 0, 1, 1, 1]
    assert train.summary.label_counts == {"high": 3, "low": 3}
    assert train.samples.min() >= -1 and train.samples.max() <= 1


def test_labels_from_file_name_pattern(tmp_path):
    for name in ("3_anna_0.wav", "3_anna_1.wav", "7_bo_0.wav"):
        write_wav(tmp_path / name, tone(0.2, 8000))
    train = load_dataset(folder_recipe(tmp_path, labels="pattern", label_pattern=r"^(?P<label>\d)_"))
    assert train.label_names == ["3", "7"] and sorted(train.labels.tolist()) == [0, 0, 1]


def test_unlabelled_folder(labelled_folder):
    train = load_dataset(folder_recipe(labelled_folder, labels="none"))
    assert train.label_names == [] and len(train) == 6 and not train.labels.any()


def test_long_clips_are_cropped_and_counted(tmp_path):
    write_wav(tmp_path / "a" / "long.wav", tone(2.0, 8000))
    write_wav(tmp_path / "a" / "short.wav", tone(0.1, 8000))
    train = load_dataset(folder_recipe(tmp_path))
    assert train.summary.cropped == 1
    assert train.summary.durations == pytest.approx((0.1, 1.05, 2.0))


def make_bad_files(root):
    write_wav(root / "a" / "good.wav", tone(0.3, 8000))
    (root / "a" / "garbage.wav").write_bytes(b"RIFF....not a wave file")
    write_wav(root / "a" / "empty.wav", np.zeros(0, dtype=np.float32))
    write_wav(root / "a" / "silent.wav", np.zeros(2000, dtype=np.float32))
    write_wav(root / "a" / "nan.wav", np.full(2000, np.nan, dtype=np.float32), subtype="FLOAT")
    whole = write_wav(root / "a" / "whole.wav", tone(0.5, 8000)).read_bytes()
    (root / "a" / "whole.wav").unlink()
    (root / "a" / "cut.wav").write_bytes(whole[: len(whole) // 2])
    (root / "a" / "song.m4a").write_bytes(b"ftypM4A")
    (root / "a" / "notes.txt").write_text("not audio: ignored")


def test_bad_files_are_skipped_and_counted(tmp_path):
    make_bad_files(tmp_path)
    train = load_dataset(folder_recipe(tmp_path))
    assert len(train) == 1
    skipped = {reason: len(paths) for reason, paths in train.summary.skipped.items()}
    assert skipped == {"unreadable": 1, "empty": 1, "silent": 1, "NaN or infinite samples": 1,
                       "truncated": 1, "unsupported format: M4A (libsndfile reads no M4A; convert to WAV or FLAC)": 1}
    assert train.summary.found == 7


def test_bad_file_is_an_error_naming_it_when_asked(tmp_path):
    make_bad_files(tmp_path)
    with pytest.raises(UserError, match=r"\.(wav|m4a)"):
        load_dataset(folder_recipe(tmp_path, on_bad_file="error"))


def test_missing_and_empty_folders_and_unmatched_pattern(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        load_dataset(folder_recipe(tmp_path / "nope"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match=r"no audio files found \(ganaudio reads WAV, .*AIFF, .*MP3"):
        load_dataset(folder_recipe(tmp_path / "empty"))
    write_wav(tmp_path / "x" / "clip.wav", tone(0.2, 8000))
    with pytest.raises(UserError, match="data.label_pattern: .* matches none"):
        load_dataset(folder_recipe(tmp_path / "x", labels="pattern", label_pattern=r"^\d_"))


def test_all_files_bad_is_an_error(tmp_path):
    write_wav(tmp_path / "a" / "silent.wav", np.zeros(2000, dtype=np.float32))
    with pytest.raises(UserError, match="none of the 1 audio files could be used"):
        load_dataset(folder_recipe(tmp_path))


def test_folder_source_has_no_test_split(labelled_folder):
    with pytest.raises(UserError, match="no test split"):
        load_dataset(folder_recipe(labelled_folder), split="test")


def test_flac_and_ogg_are_read(tmp_path):
    write_wav(tmp_path / "a" / "x.flac", tone(0.2, 8000))
    write_wav(tmp_path / "a" / "y.ogg", tone(0.2, 8000), subtype="VORBIS")
    assert len(load_dataset(folder_recipe(tmp_path))) == 2
    assert torch.isfinite(load_dataset(folder_recipe(tmp_path)).samples).all()


def test_held_out_files_stay_held_out_when_files_are_added(tmp_path):
    """Folders hold out about one file in holdout_every (10 by default) by a hash of each path,
    so a folder that grows never moves a file a model was scored on into its training split."""
    from ganaudio.config import DataConfig
    from ganaudio.data.clips import DataSummary
    from ganaudio.data.folder import folder_files

    assert DataConfig().holdout_every == 10
    for i in range(40):
        write_wav(tmp_path / "a" / f"a_{i}.wav", tone(0.1, 8000))
    data = DataConfig(root=str(tmp_path), holdout_every=4)
    before = {f.path: f.split for f in folder_files(data, DataSummary("folder"))}
    assert 4 <= list(before.values()).count("test") <= 18  # about one in 4
    for i in range(40, 80):
        write_wav(tmp_path / "a" / f"a_{i}.wav", tone(0.1, 8000))
    after = {f.path: f.split for f in folder_files(data, DataSummary("folder"))}
    assert len(after) == 80 and all(after[path] == split for path, split in before.items())
    assert "test" in [after[path] for path in after if path not in before]


def test_long_clips_cut_say_by_how_much(tmp_path):
    """With align start, the summary says how much sound each cut clip lost (up to its last
    audible sample), not how long its file was."""
    write_wav(tmp_path / "a" / "long.wav", tone(1.512, 8000))  # 1.0 s of tone past a 0.512 s clip
    padded = np.concatenate([tone(0.712, 8000), np.zeros(8000 * 2, dtype=np.float32)])  # silent tail
    write_wav(tmp_path / "a" / "tail.wav", padded)  # 0.2 s of sound cut, 2 s of silence not counted
    write_wav(tmp_path / "a" / "short.wav", tone(0.1, 8000))
    summary = load_dataset(folder_recipe(tmp_path, align="start")).summary
    assert summary.cropped == 2
    assert summary.cut_seconds == pytest.approx((0.6, 1.0), abs=0.02)  # median and most (tone() fades out)
    assert "cropped: 2 clips longer than the clip length (sound cut off: median 0.59 s, at most 0.98 s)" \
        in summary.lines()[-3:]


def test_clip_seconds_auto_holds_most_files_whole(tmp_path):
    """auto: the 90th percentile of the files' durations, rounded up to a multiple of 16 frames;
    a length given in seconds is kept as it is."""
    from ganaudio.data import resolve_clip_seconds

    durations = [0.1 * (i + 1) for i in range(20)]  # 0.1 .. 2.0 s: 90th percentile 1.81 s
    for i, seconds in enumerate(durations):
        write_wav(tmp_path / "a" / f"x{i}.wav", tone(seconds, 8000))
    recipe = recipe_from_dict({"data": {"source": "folder", "root": str(tmp_path)},
                               "features": {**FEATURES, "clip_seconds": "auto"}})
    resolved = resolve_clip_seconds(recipe)
    features = resolved.features
    assert features.frames % 16 == 0 and 1.81 <= features.clip_seconds < 1.81 + 16 * 64 / 8000
    assert features.clip_seconds == pytest.approx(240 * 64 / 8000)  # 226.2 frames -> 240
    assert sum(d <= features.clip_seconds for d in durations) == 19  # at least 90% whole
    assert resolve_clip_seconds(resolved) is resolved
    train = load_dataset(recipe)  # resolves it too
    assert train.sample_shape == (1, 32, 240) and train.summary.cropped == 1


def test_clip_seconds_auto_needs_files_and_is_decided_before_training(tmp_path):
    from ganaudio.data import resolve_clip_seconds
    from ganaudio.train import Trainer

    with pytest.raises(UserError, match="features.clip_seconds: must be a number or one of auto, got 'long'"):
        recipe_from_dict({"features": {**FEATURES, "clip_seconds": "long"}})
    voices = recipe_from_dict({"data": {"source": "synthetic-voice"}, "features": {**FEATURES, "clip_seconds": "auto"}})
    with pytest.raises(UserError, match="features.clip_seconds: auto takes the length from the data.s audio files, and synthetic-voice has none"):
        resolve_clip_seconds(voices)
    write_wav(tmp_path / "a" / "x.wav", tone(0.3, 8000))
    recipe = folder_recipe(tmp_path)
    auto = recipe_from_dict({**recipe.to_dict(), "features": {**FEATURES, "clip_seconds": "auto"}})
    with pytest.raises(UserError, match="'auto' must be decided before training"):
        Trainer(auto, load_dataset(auto), tmp_path / "run")


def test_clip_seconds_auto_refuses_a_length_past_what_ganaudio_trains_on(tmp_path):
    for i in range(2):
        write_wav(tmp_path / "a" / f"take{i}.wav", tone(40.0, 8000))
    recipe = recipe_from_dict({"data": {"source": "folder", "root": str(tmp_path)},
                               "features": {**FEATURES, "clip_seconds": "auto"}})
    with pytest.raises(UserError, match=r"features.clip_seconds: auto found 40.0 s at the 90th percentile of 2 files, "
                                        r"longer than ganaudio trains on \(32.8 s at hop_length 64\)"):
        load_dataset(recipe)
