"""Bad input thrown at the CLI: broken recipes, broken audio, unwritable outputs. Each ends in
one line on stderr and exit code 2 (or trains on what is usable), never a traceback, and
leaves the user's files as they were."""

from __future__ import annotations

import copy
import errno
import hashlib
import math
import os
import random
from pathlib import Path

import numpy as np
import pytest
import soundfile
import yaml

import ganaudio.checkpoint
from ganaudio.cli import main
from tests.helpers import tone, write_wav

# The voice recipe at test size: every mutation below changes one thing in it.
TINY = {
    "base": None,
    "data": {"source": "synthetic-voice", "num_clips": 20, "seed": 0},
    "features": {"clip_seconds": 0.256, "n_fft": 256, "hop_length": 64, "n_mels": 32},
    "model": {"conv": "1d", "width": 4, "max_width": 16, "latent_dim": 8, "kernel_size": 3},
    "train": {"batch_size": 4, "steps": 2, "eval_every": 0},
    "output": {"grid_samples": 4},
}
ODD_VALUES = [-1, 0, 10 ** 12, -(10 ** 12), 1.5, float("nan"), float("inf"), "abc", "", None, True, [1, 2],
              {"a": 1}, 2 ** 63]


def recipe_mutations(count: int, seed: int) -> list[tuple[str, object, set[int]]]:
    """(description, recipe as YAML data, the exit codes that are right for it): wrong types,
    absurd sizes, unknown keys, missing or malformed sections, drawn repeatably from `seed`.
    A value no recipe key takes (a list, a mapping, NaN or infinity) must be refused; other odd
    values may be in range for their key, so either answer can be right for them."""
    rng = random.Random(seed)
    keys = [(section, key) for section, values in TINY.items() if isinstance(values, dict) for key in values]
    mutations: list[tuple[str, object, set[int]]] = []
    while len(mutations) < count:
        recipe = copy.deepcopy({k: v for k, v in TINY.items() if k != "base"})
        kind = rng.choice(["value", "value", "value", "unknown key", "missing section", "section type"])
        section, key = rng.choice(keys)
        if kind == "value":
            value = rng.choice(ODD_VALUES)
            recipe[section][key] = value
            never_valid = isinstance(value, (list, dict)) or (isinstance(value, float) and not math.isfinite(value))
            mutations.append((f"{section}.{key}={value!r}", recipe, {2} if never_valid else {0, 2}))
        elif kind == "unknown key":
            recipe[section][key + "_typo"] = 1
            mutations.append((f"{section}.{key}_typo", recipe, {2}))
        elif kind == "missing section" and section != "data":  # data defaults to a 1,000-clip corpus
            del recipe[section]
            mutations.append((f"no {section}", recipe, {0}))  # every section has defaults
        elif kind == "section type":
            recipe[section] = rng.choice([[1, 2], "text", 3])
            mutations.append((f"{section} not a mapping", recipe, {2}))
    return mutations


def assert_clean_failure_or_success(code: int, err: str) -> None:
    assert code in (0, 2), err
    assert "Traceback" not in err
    if code == 2:
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("ganaudio: error: "), err


@pytest.mark.parametrize("seed", [0, 1])
def test_mutated_recipes_are_accepted_or_refused_in_one_line(tmp_path, capsys, seed):
    results = {}
    for i, (what, recipe, right) in enumerate(recipe_mutations(20, seed)):
        path = tmp_path / f"recipe-{i}.yaml"
        path.write_text(yaml.safe_dump(recipe))
        code = main(["train", str(path), "--dry-run", "--out", str(tmp_path / f"run-{i}")])
        assert_clean_failure_or_success(code, capsys.readouterr().err)
        assert code in right, f"{what}: exit {code}"
        results[what] = code
    assert 2 in results.values() and 0 in results.values()  # both answers are exercised
    assert not list(tmp_path.glob("run-*"))  # a dry run writes nothing


@pytest.mark.parametrize("text", ["", "data: [", "- just\n- a list\n", "data:\n  source: voice\n  source: folder\n",
                                  "base: missing.yaml\n", "\x00\x01binary"])
def test_malformed_recipe_files_are_one_line(tmp_path, capsys, text):
    path = tmp_path / "recipe.yaml"
    path.write_text(text)
    code = main(["train", str(path), "--dry-run"])
    assert_clean_failure_or_success(code, capsys.readouterr().err)


def random_bytes(seed: int, header: bytes = b"") -> bytes:
    return header + random.Random(seed).randbytes(3000)


def wav_bytes(samples: np.ndarray, rate: int, subtype: str = "PCM_16") -> bytes:
    path = Path(f"/tmp/ganaudio-fuzz-{os.getpid()}.wav")
    soundfile.write(path, samples, rate, subtype=subtype)
    data = path.read_bytes()
    path.unlink()
    return data


BAD_FILES = {
    "random bytes": random_bytes(0),
    "random bytes after a RIFF header": random_bytes(1, b"RIFF\x00\x10\x00\x00WAVEfmt "),
    "truncated header": wav_bytes(tone(0.3, 8000), 8000)[:30],
    "zero frames": wav_bytes(np.zeros(0, dtype=np.float32), 8000),
    "1 Hz": wav_bytes(tone(0.3, 8000), 1),
    "1 MHz": wav_bytes(tone(0.3, 8000), 1_000_000),
    "NaN samples": wav_bytes(np.full(2400, np.nan, dtype=np.float32), 8000, "FLOAT"),
    "infinite samples": wav_bytes(np.full(2400, np.inf, dtype=np.float32), 8000, "FLOAT"),
}


def folder_with(tmp_path: Path, content: bytes) -> Path:
    root = tmp_path / "clips"
    for i in range(2):
        write_wav(root / "a" / f"good-{i}.wav", tone(0.3, 8000, 300 + 100 * i))
    (root / "a" / "bad.wav").write_bytes(content)
    return root


def fingerprint(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*"))
            if p.is_file()}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_broken_audio_is_named_or_skipped_and_never_changed(tmp_path, capsys, name):
    root = folder_with(tmp_path, BAD_FILES[name])
    before = fingerprint(root)
    small = ["--set", "features.clip_seconds=0.256", "--set", "features.n_fft=256", "--set", "features.hop_length=64",
             "--set", "features.n_mels=32"]
    code = main(["features", "voice", "--data", str(root), *small, "--set", "data.on_bad_file=error"])
    err = capsys.readouterr().err
    assert code == 2 and "bad.wav" in err
    assert_clean_failure_or_success(code, err)
    assert main(["features", "voice", "--data", str(root), *small]) == 0  # skipped: the good clips are used
    out = capsys.readouterr().out
    assert "clips: 2 used of 3 found" in out and "skipped: 1" in out and "bad.wav" in out
    assert fingerprint(root) == before


def test_eight_channels_are_mixed_down(tmp_path, capsys):
    root = tmp_path / "clips"
    write_wav(root / "a" / "wide.wav", tone(0.3, 8000, channels=8))
    write_wav(root / "a" / "narrow.wav", tone(0.3, 8000, 500))
    code = main(["features", "voice", "--data", str(root), "--set", "features.clip_seconds=0.256", "--set",
                 "features.n_fft=256", "--set", "features.hop_length=64", "--set", "features.n_mels=32",
                 "--set", "data.on_bad_file=error"])
    assert code == 0, capsys.readouterr().err


def test_an_output_path_that_is_a_file_is_refused_and_kept(tmp_path, capsys):
    taken = tmp_path / "taken"
    taken.write_text("the user's notes")
    for args in (["train", "voice", "--out", str(taken), "--set", "data.num_clips=20"],
                 ["synth", "--out", str(taken / "x.wav")],
                 ["augment", "--per-class", "1", "--out", str(taken)]):
        code = main(args)
        assert_clean_failure_or_success(code, capsys.readouterr().err)
        assert code == 2
    assert taken.read_text() == "the user's notes"


@pytest.mark.parametrize("failure", [errno.EACCES, errno.EROFS, errno.ENOSPC])
def test_a_folder_that_refuses_writes_is_one_line(tmp_path, capsys, monkeypatch, failure):
    """A read-only or full folder, simulated: the tests may run as root, who can write anywhere."""
    def refuses(*args, **kwargs):
        raise OSError(failure, os.strerror(failure))

    out = tmp_path / "run"
    overrides = []
    for override in [f"data.cache_dir={tmp_path / 'cache'}", *[f"{s}.{k}={v}" for s, vals in TINY.items()
                                                                 if isinstance(vals, dict) and s != "data"
                                                                 for k, v in vals.items()], "data.num_clips=20"]:
        overrides += ["--set", override]
    # The feature cache is written with torch.save too: build it first, so the refusal below
    # meets the checkpoint.
    assert main(["features", "voice", *overrides]) == 0
    capsys.readouterr()
    monkeypatch.setattr(ganaudio.checkpoint.torch, "save", refuses)
    code = main(["train", "voice", "--out", str(out), *overrides])
    err = capsys.readouterr().err
    lines = [line.split("\r")[-1] for line in err.splitlines() if "ganaudio: " in line]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err
    assert "checkpoint-" in lines[0] and os.strerror(failure) in lines[0], lines[0]
    assert not list(out.glob("checkpoint-*")) and not list(out.glob(".*.tmp"))


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders; simulated above")
def test_a_real_read_only_folder_is_one_line(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        code = main(["synth", "--out", str(locked / "x.wav")])
        assert code == 2 and "locked" in capsys.readouterr().err
    finally:
        locked.chmod(0o700)
