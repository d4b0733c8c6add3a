"""Atomic file writes, one naming scheme: every file ganaudio writes is first written to
`.<name>.<pid>.tmp` beside it and renamed into place, so a kill never leaves half a file and a
failed write leaves the old one as it was. Because every temporary has that name, a run folder
can find and remove the ones that killed processes left (WAVs and PNGs of a preview included)."""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path
from typing import Iterator

from ganaudio.errors import UserError

TEMPORARY = re.compile(r"^\..+\.(\d+)\.tmp$")


def require_parent_folder(path: Path) -> None:
    """Refuse, before any work, a file or folder to be written into a folder that is missing."""
    if not path.parent.is_dir():
        raise UserError(f"{path}: folder {path.parent} does not exist")


def temporary_path(path: Path) -> Path:
    """This process's temporary name for `path`. It keeps no suffix of its own, so writers that
    would pick a format from it (matplotlib, soundfile) are told the format."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


@contextlib.contextmanager
def atomic_write(path: Path | str) -> Iterator[Path]:
    """Yield the temporary path to write; it replaces `path` when the block ends without an
    error, and is removed in any case."""
    path = Path(path)
    temporary = temporary_path(path)
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_text_atomically(path: Path | str, text: str) -> None:
    """recipe.yaml, metrics.jsonl and JSON reports."""
    with atomic_write(path) as temporary:
        temporary.write_text(text)


def remove_stale_temporaries(folder: Path) -> None:
    """Delete the temporaries that killed processes left in `folder` (never those of a process
    still running)."""
    for path in folder.iterdir():
        match = TEMPORARY.match(path.name)
        if match and not process_is_running(min(int(match.group(1)), 2 ** 31 - 1)):
            path.unlink(missing_ok=True)


def process_is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True
