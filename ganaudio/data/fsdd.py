"""Data source `fsdd`: the Free Spoken Digit Dataset (Jackson et al., CC BY-SA 4.0) with its
official split: takes 0-4 are the test set, 5-49 the training set.

Reads `data.root` when given; otherwise downloads the pinned release (commit 26eb9aa: 3,000
clips, 6 speakers) into the cache folder and checks the recordings against a checksum.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import zipfile
from pathlib import Path

from ganaudio.config import DataConfig, Recipe
from ganaudio.data.cache import cache_root
from ganaudio.data.clips import ClipFile, Clips, DataSummary, read_clip_files
from ganaudio.data.download import download
from ganaudio.data.folder import existing_root, find_audio_files
from ganaudio.errors import UserError

NAME_PATTERN = re.compile(r"^(?P<digit>\d)_(?P<speaker>[a-z]+)_(?P<take>\d+)\.wav$")
FIRST_TRAIN_TAKE = 5
RELEASE = "26eb9aa"
ARCHIVE_URL = f"https://github.com/Jakobovski/free-spoken-digit-dataset/archive/{RELEASE}.zip"
# sha256 over (file name, sha256 of file) of the 3,000 recordings, sorted by name. GitHub's
# zip archives are not byte-stable, so the content is checked rather than the archive.
RECORDINGS_SHA256 = "0fbe6612aaa20a80ef4371894a46e060038337a518fe3d4728cb7eee7caa013c"


class FsddSource:
    """The fsdd source (see ganaudio.data.Source)."""

    labelled = True

    def __init__(self, recipe: Recipe):
        self.recipe = recipe

    def files(self) -> list[Path]:
        readable, unsupported = find_audio_files(recordings_folder(self.recipe.data))
        return readable + unsupported

    def read(self) -> Clips:
        summary = DataSummary(source="fsdd")
        return read_clip_files(fsdd_files(self.recipe.data, summary), self.recipe.data, self.recipe.features, summary)


def recordings_folder(data: DataConfig) -> Path:
    """data.root, or the downloaded copy when it is not set."""
    return existing_root(data) if data.root else downloaded_recordings(data)


def fsdd_files(data: DataConfig, summary: DataSummary) -> list[ClipFile]:
    """All FSDD recordings with digit label and official split; other names are skipped."""
    root = recordings_folder(data)
    readable, _ = find_audio_files(root)
    summary.found = len(readable)
    files = []
    for path in readable:
        match = NAME_PATTERN.match(path.name)
        if match is None:
            if data.on_bad_file == "error":
                raise UserError(f"{path}: not an FSDD name ({{digit}}_{{speaker}}_{{take}}.wav)")
            summary.skip(str(path), "not an FSDD file name")
            continue
        split = "train" if int(match["take"]) >= FIRST_TRAIN_TAKE else "test"
        files.append(ClipFile(path=path, label=match["digit"], split=split))
    if not files:
        raise UserError(f"{root}: no FSDD recordings ({{digit}}_{{speaker}}_{{take}}.wav) found")
    return files


def recordings_checksum(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.wav")):
        digest.update(path.name.encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def downloaded_recordings(data: DataConfig) -> Path:
    """The cached copy of the pinned release, downloading and verifying it on first use."""
    target = cache_root(data) / "fsdd" / RELEASE / "recordings"
    if target.is_dir():
        return target
    hint = "--data PATH/TO/free-spoken-digit-dataset/recordings"
    archive = download([ARCHIVE_URL], target.parent / "fsdd.zip", md5=None,
                       what="the Free Spoken Digit Dataset", local_hint=hint)
    staging = target.parent / "recordings.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    with zipfile.ZipFile(archive) as bundle:
        for member in bundle.namelist():
            if "/recordings/" in member and member.endswith(".wav"):
                (staging / Path(member).name).write_bytes(bundle.read(member))
    if recordings_checksum(staging) != RECORDINGS_SHA256:
        shutil.rmtree(staging)
        raise UserError(f"{ARCHIVE_URL}: downloaded recordings do not match the pinned release; "
                        f"point at a local copy with {hint}")
    staging.rename(target)
    archive.unlink()
    return target
