"""Data source `folder`: every audio file libsndfile reads (WAV, FLAC, OGG Vorbis and Opus,
AIFF, MP3, ...) under `data.root`, extensions in any case, labelled by parent folder name or by
a regular expression on the file name."""

from __future__ import annotations

import dataclasses
import os
import re
import zlib
from pathlib import Path

from ganaudio.audio import AUDIO_EXTENSIONS, UNSUPPORTED_AUDIO_EXTENSIONS, unsupported_reason
from ganaudio.config import DataConfig, Recipe
from ganaudio.data.clips import ClipFile, Clips, DataSummary, read_clip_files
from ganaudio.errors import UserError


class FolderSource:
    """The folder source (see ganaudio.data.Source)."""

    def __init__(self, recipe: Recipe):
        self.recipe = recipe
        self.labelled = recipe.data.labels != "none"

    def files(self) -> list[Path]:
        readable, unsupported = find_audio_files(existing_root(self.recipe.data))
        return readable + unsupported

    def read(self) -> Clips:
        summary = DataSummary(source=self.recipe.data.source)
        return read_clip_files(folder_files(self.recipe.data, summary), self.recipe.data, self.recipe.features,
                               summary)


def existing_root(data: DataConfig) -> Path:
    """`data.root` as a folder that exists, or a UserError naming it."""
    if not data.root:
        raise UserError(f"data.root: source '{data.source}' needs a folder (--data PATH)")
    root = Path(data.root).expanduser()
    if not root.is_dir():
        raise UserError(f"{root}: data folder does not exist")
    return root


def find_audio_files(root: Path) -> tuple[list[Path], list[Path]]:
    """(readable audio files, audio files in formats ganaudio does not read), sorted.

    Other files (notes, manifests) are not audio and are ignored, as is anything hidden.
    os.walk rather than Path.rglob: it is several times faster on a folder of thousands of clips.
    """
    readable, unsupported = [], []
    for folder, subfolders, names in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        for name in sorted(names):
            suffix = os.path.splitext(name)[1].lower()
            if name.startswith("."):
                continue
            if suffix in AUDIO_EXTENSIONS:
                readable.append(Path(folder, name))
            elif suffix in UNSUPPORTED_AUDIO_EXTENSIONS:
                unsupported.append(Path(folder, name))
    return readable, unsupported


def folder_files(data: DataConfig, summary: DataSummary) -> list[ClipFile]:
    """The files of a folder source with their labels; unlabelable files are counted as skipped."""
    root = existing_root(data)
    readable, unsupported = find_audio_files(root)
    summary.found = len(readable) + len(unsupported)
    if not readable:
        raise UserError(f"{root}: no audio files found (ganaudio reads "
                        f"{', '.join(e[1:].upper() for e in AUDIO_EXTENSIONS)})")
    for path in unsupported:
        _bad(data, summary, path, unsupported_reason(path.suffix))
    files = []
    pattern = re.compile(data.label_pattern) if data.labels == "pattern" else None
    for path in readable:
        label = _label(path, root, data, pattern)
        if data.labels == "pattern" and label is None:
            _bad(data, summary, path, "label pattern matched nothing")
            continue
        files.append(ClipFile(path=path, label=label))
    if not files:
        raise UserError(f"data.label_pattern: {data.label_pattern!r} matches none of the "
                        f"{len(readable)} file names under {root}")
    return _hold_out(files, data.holdout_every, root) if data.holdout_every else files


def _hold_out(files: list[ClipFile], every: int, root: Path) -> list[ClipFile]:
    """Mark about one file in `every` as the test split: those whose path under the root hashes
    to 0 modulo `every` (CRC-32). A file's split depends on its own path only, so adding files
    to the folder never moves one between splits (a resumed or retrained model is still scored
    on clips it did not train on); each label gets its share on average, not exactly."""
    held_out = {f.path for f in files if zlib.crc32(f.path.relative_to(root).as_posix().encode()) % every == 0}
    return [dataclasses.replace(f, split="test") if f.path in held_out else f for f in files]


def _label(path: Path, root: Path, data: DataConfig, pattern: re.Pattern | None) -> str | None:
    if data.labels == "none":
        return None
    if data.labels == "folder":
        return path.parent.name if path.parent != root else root.name
    match = pattern.search(path.name)
    if match is None:
        return None
    return match.group("label") if "label" in pattern.groupindex else match.group(1 if pattern.groups else 0)


def _bad(data: DataConfig, summary: DataSummary, path: Path, reason: str) -> None:
    if data.on_bad_file == "error":
        raise UserError(f"{path}: {reason}")
    summary.skip(str(path), reason)
