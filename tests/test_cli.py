"""`ganaudio` on the command line: the features command, and every user mistake ends in
one line on stderr with exit code 2."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest

from ganaudio.cli import main
from tests.helpers import tone, write_wav

SMALL = ["--set", "features.clip_seconds=0.512", "--set", "features.n_fft=256",
         "--set", "features.hop_length=64", "--set", "features.n_mels=32"]


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_help_lists_subcommands():
    result = subprocess.run([sys.executable, "-m", "ganaudio", "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    # Each subcommand is a line of its own under "commands:", with its help beside it; the
    # description's prose can mention a word without the subcommand existing.
    listed = re.findall(r"^    ([a-z]+) {2,}\S", result.stdout.split("commands:")[1], flags=re.MULTILINE)
    assert set(listed) == {"features", "train", "synth", "export", "evaluate", "augment"}


def test_features_prints_summary_and_plots(capsys, labelled_folder, tmp_path):
    plot = tmp_path / "grid.png"
    code, out, _ = run_cli(capsys, "features", "voice", "--data", str(labelled_folder), *SMALL, "--plot", str(plot))
    assert code == 0
    assert "clips: 6 used of 6 found" in out and "labels (2): high 3, low 3" in out
    assert "features: 32 mel bins x 64 frames" in out and "computed and cached" in out
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code, out, _ = run_cli(capsys, "features", "voice", "--data", str(labelled_folder), *SMALL)
    assert "loaded from cache" in out


def test_features_says_what_clip_length_auto_chose(capsys, labelled_folder):
    """labelled_folder's files last 0.3-0.5 s: 0.5 s at the 90th percentile, 62.5 frames of hop 64 -> 64."""
    code, out, _ = run_cli(capsys, "features", "voice", "--data", str(labelled_folder), *SMALL,
                           "--set", "features.clip_seconds=auto")
    assert code == 0
    assert "features.clip_seconds: auto -> 0.512 s (64 frames;" in out  # the exact number, as recipe.yaml holds it
    assert "features: 32 mel bins x 64 frames (0.512 s" in out and "cropped: 0 clips" in out


def test_folder_source_holds_out_files_for_the_test_split(capsys, labelled_folder):
    code, out, _ = run_cli(capsys, "features", "voice", "--data", str(labelled_folder), *SMALL,
                           "--set", "data.holdout_every=2", "--split", "test")
    splits = re.search(r"splits: train (\d+), test (\d+)", out)
    assert code == 0 and splits and int(splits[1]) + int(splits[2]) == 6
    assert f"test split: {splits[2]} samples" in out
    code, _, err = run_cli(capsys, "features", "voice", "--data", str(labelled_folder), *SMALL,
                           "--set", "data.holdout_every=1")
    assert code == 2 and "data.holdout_every: must be 0 (none held out) or at least 2" in err


def test_features_on_real_fsdd(capsys, fsdd_dir, tmp_path):
    code, out, _ = run_cli(capsys, "features", "recipes/digits.yaml", "--data", str(fsdd_dir),
                           "--plot", str(tmp_path / "digits.png"))
    assert code == 0
    assert "clips: 3000 used of 3000 found" in out and "splits: train 2700, test 300" in out
    assert "features: 64 mel bins x 64 frames" in out and "skipped: 0" in out


def test_features_on_the_real_drum_kit(capsys, drums_dir, tmp_path):
    """recipes/drums.yaml reads every file of the kit, holds out enough for evaluation, and
    starts every clip at its attack."""
    import torch

    from ganaudio.config import load_recipe
    from ganaudio.data import read_audio_clips

    code, out, _ = run_cli(capsys, "features", "drums", "--data", str(drums_dir), "--plot", str(tmp_path / "kit.png"))
    assert code == 0
    assert "clips: 83 used of 83 found" in out and "skipped: 0" in out
    assert "labels (6): clap 2, cymbal 21, hihat 23, kick 7, snare 12, tom 18" in out
    held_out = int(re.search(r"splits: train \d+, test (\d+)", out)[1])
    assert held_out >= 20  # what evaluation needs
    assert "features: 64 mel bins x 64 frames (0.74304 s at 22050 Hz" in out
    clips = read_audio_clips(load_recipe("drums", data_root=str(drums_dir))).waveforms
    first_loud = (clips.abs() > 0.1 * clips.abs().amax(dim=1, keepdim=True)).float().argmax(dim=1)
    assert int(first_loud.max()) < 0.02 * 22050  # every attack within 20 ms of the clip's start
    assert torch.isfinite(clips).all()


def test_features_on_mnist(capsys, mnist_dir, tmp_path):
    code, out, _ = run_cli(capsys, "features", "mnist", "--data", str(mnist_dir), "--plot", str(tmp_path / "m.png"))
    assert code == 0 and "28 x 28 pixels; train split: 8000 samples" in out


def one_file(tmp_path, name="clip.wav", samples=None, subtype="PCM_16"):
    folder = tmp_path / "data" / "a"
    write_wav(folder / name, tone(0.3, 8000) if samples is None else samples, subtype=subtype)
    return tmp_path / "data"


def truncated(tmp_path):
    root = one_file(tmp_path)
    path = root / "a" / "clip.wav"
    path.write_bytes(path.read_bytes()[:1000])
    return root


def with_m4a(tmp_path):
    root = one_file(tmp_path)
    (root / "a" / "song.m4a").write_bytes(b"ftypM4A")
    return root


def broken(tmp_path):
    root = one_file(tmp_path)
    (root / "a" / "clip.wav").write_bytes(b"garbage")
    return root


@pytest.mark.parametrize("make, extra, message", [
    (lambda t: t / "missing", [], "data folder does not exist"),
    (lambda t: (t / "empty").mkdir() or t / "empty", [], "no audio files found (ganaudio reads WAV,"),
    (broken, ["--set", "data.on_bad_file=error"], "clip.wav: unreadable"),
    (truncated, ["--set", "data.on_bad_file=error"], "clip.wav: truncated"),
    (lambda t: one_file(t, samples=np.zeros(0, dtype=np.float32)), ["--set", "data.on_bad_file=error"], "empty"),
    (lambda t: one_file(t, samples=np.zeros(900, dtype=np.float32)), ["--set", "data.on_bad_file=error"], "silent"),
    (lambda t: one_file(t, samples=np.full(900, np.nan, dtype=np.float32), subtype="FLOAT"),
     ["--set", "data.on_bad_file=error"], "NaN"),
    (with_m4a, ["--set", "data.on_bad_file=error"], "song.m4a: unsupported format: M4A (libsndfile reads no M4A"),
    (lambda t: one_file(t), ["--set", "data.labels=pattern", "--set", r"data.label_pattern=^\d_"],
     "data.label_pattern"),
    (lambda t: one_file(t), ["--set", "features.n_mel=40"], "features.n_mel: unknown key"),
    (lambda t: one_file(t), ["--set", "features.n_mels=-4"], "features.n_mels: must be positive"),
    (lambda t: one_file(t), ["--set", "data.on_bad_file=maybe"], "data.on_bad_file: must be one of"),
    (lambda t: one_file(t), ["--plot", "/nonexistent-dir/x.png"], "does not exist"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, tmp_path, make, extra, message):
    root = make(tmp_path)
    code, out, err = run_cli(capsys, "features", "voice", "--data", str(root), *SMALL, *extra)
    assert code == 2
    assert message in err and err.startswith("ganaudio: error: ") and err.count("\n") == 1



def test_missing_recipe_file_exit_2(capsys):
    code, _, err = run_cli(capsys, "features", "no/such/recipe.yaml")
    assert code == 2 and "recipe file not found" in err


def test_importing_ganaudio_leaves_matplotlib_alone():
    code = "import sys, ganaudio; print('matplotlib.pyplot' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == "False", result.stderr
