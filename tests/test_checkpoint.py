"""Checkpoints from elsewhere: a file crafted to run code is refused before any of it runs, and
a newer format or a recipe that does not fit the weights is a clear error."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from ganaudio.checkpoint import FORMAT_VERSION, KIND, load_checkpoint
from ganaudio.files import remove_stale_temporaries
from ganaudio.cli import main
from ganaudio.errors import UserError


class RunsCode:
    """Unpickling this calls os.system: what a malicious checkpoint does."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture
def malicious(tmp_path):
    marker = tmp_path / "payload-ran"
    path = tmp_path / "checkpoint-0000001.pt"
    torch.save({"kind": KIND, "format_version": FORMAT_VERSION, "generator": RunsCode(marker)}, path)
    return path, marker


def test_a_checkpoint_that_runs_code_is_refused_and_runs_nothing(malicious):
    path, marker = malicious
    with pytest.raises(UserError, match="refused: loading it would run posix.system"):
        load_checkpoint(path)
    assert not marker.exists()


@pytest.mark.parametrize("command", [["synth", "--checkpoint", "{path}", "--out", "{tmp}/x.wav"],
                                     ["export", "{path}", "--out", "{tmp}/g.pt"],
                                     ["evaluate", "--checkpoint", "{path}"]])
def test_every_command_refuses_it_with_one_line(malicious, tmp_path, capsys, command):
    path, marker = malicious
    args = [arg.format(path=path, tmp=tmp_path) for arg in command]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "refused" in err and not marker.exists()
    assert not list(tmp_path.glob("x.wav")) and not list(tmp_path.glob("g.pt"))


def test_resume_refuses_it_too(malicious, tmp_path, capsys):
    path, marker = malicious
    assert main(["train", "voice", "--out", str(path.parent), "--resume", "--set", "data.num_clips=20"]) == 2
    assert "refused" in capsys.readouterr().err and not marker.exists()


def test_a_newer_format_says_to_upgrade(tmp_path):
    path = tmp_path / "new.pt"
    torch.save({"kind": KIND, "format_version": FORMAT_VERSION + 1}, path)
    with pytest.raises(UserError, match=f"written by a newer ganaudio \\(checkpoint format {FORMAT_VERSION + 1}"):
        load_checkpoint(path)


def test_weights_that_do_not_fit_their_recipe_are_a_clear_error(tmp_path, capsys):
    from ganaudio.data import load_dataset
    from ganaudio.train import Trainer
    from tests.test_train import tiny_voice

    recipe = tiny_voice()
    path = Trainer(recipe, load_dataset(recipe), tmp_path / "run").fit()
    state = torch.load(path, weights_only=True)
    state["recipe"]["model"]["width"] = 8  # the weights stay width 4
    torch.save(state, path)
    capsys.readouterr()  # the training progress bar
    assert main(["synth", "--checkpoint", str(path), "--out", str(tmp_path / "x.wav")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "weights do not fit the model its recipe describes" in err
    wider = tiny_voice("model.width=8")
    with pytest.raises(UserError, match="weights do not fit the model its recipe describes"):
        Trainer(wider, load_dataset(wider), tmp_path / "run").resume()
    assert not (tmp_path / "x.wav").exists()


def test_stale_temporaries_of_dead_processes_are_removed_and_live_ones_kept(tmp_path):
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = int(finished.stdout)  # that process has exited
    stale = [f".checkpoint-0000004.pt.{dead}.tmp", f".best.pt.{dead}.tmp", f".metrics.jsonl.{dead}.tmp",
             f".samples-0000004.png.{dead}.tmp", f".samples-0000004-0-a.wav.{dead}.tmp"]  # a preview's too
    kept = [f".checkpoint-0000006.pt.{os.getpid()}.tmp", "checkpoint-0000002.pt", "notes.tmp"]
    for name in stale + kept:
        (tmp_path / name).write_bytes(b"x")
    remove_stale_temporaries(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(kept)
