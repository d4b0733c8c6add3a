"""Fetching public datasets (FSDD, MNIST) into the cache folder, checked by checksum.

Used only when a recipe names a dataset without `data.root`; offline, the error says in one
line how to point at a local copy instead.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

from ganaudio.errors import UserError
from ganaudio.files import temporary_path


def download(urls: list[str], dest: Path, md5: str | None, what: str, local_hint: str) -> Path:
    """Download the first reachable URL to `dest` (atomically) and check its md5.

    `local_hint` finishes the offline message, e.g. "--data PATH/TO/recordings".
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_path(dest)
    errors = []
    for url in urls:
        try:
            _fetch(url, temporary, what)
        except (urllib.error.URLError, OSError, TimeoutError) as err:
            errors.append(f"{url}: {getattr(err, 'reason', err)}")
            continue
        try:
            if md5 is not None and _md5(temporary) != md5:
                errors.append(f"{url}: checksum mismatch")
                continue
            os.replace(temporary, dest)
            return dest
        finally:
            temporary.unlink(missing_ok=True)
    raise UserError(f"cannot download {what} ({errors[-1] if errors else 'no URL'}); "
                    f"offline, point at a local copy with {local_hint}")


def _fetch(url: str, dest: Path, what: str) -> None:
    with urllib.request.urlopen(url, timeout=30) as response, open(dest, "wb") as out:
        total = int(response.headers.get("Content-Length") or 0) or None
        with tqdm(total=total, unit="B", unit_scale=True, desc=f"downloading {what}", leave=False) as bar:
            while chunk := response.read(1 << 20):
                out.write(chunk)
                bar.update(len(chunk))


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
