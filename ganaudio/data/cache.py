"""The feature cache and download folder: computed features are stored once per
(file list with sizes and times, data config, feature config) and loaded in milliseconds.

Cache files hold only tensors and plain values and are read with `weights_only=True`, so
loading one never runs code. They are written to a temporary file and renamed into place,
so a killed run never leaves a half-written cache behind.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch

from ganaudio.config import DataConfig, FeatureConfig
from ganaudio.files import atomic_write

CACHE_FORMAT = 2  # bump when the cached payload changes meaning (2: the summary's cut_seconds)


def cache_root(data: DataConfig) -> Path:
    """data.cache_dir, else $GANAUDIO_CACHE, else ~/.cache/ganaudio."""
    if data.cache_dir:
        return Path(data.cache_dir).expanduser()
    return Path(os.environ.get("GANAUDIO_CACHE", Path.home() / ".cache" / "ganaudio")).expanduser()


def file_fingerprint(paths: list[Path]) -> list[tuple[str, int, int]]:
    """(path, size, mtime_ns) per file: any edit, addition or removal changes the cache key."""
    fingerprint = []
    for path in paths:
        stat = os.stat(path)
        fingerprint.append((os.path.abspath(path), stat.st_size, stat.st_mtime_ns))
    return fingerprint


def cache_key(data: DataConfig, features: FeatureConfig, fingerprint: Any) -> str:
    """Hash of everything that decides the cached features; cache_dir itself is left out."""
    data_fields = {k: v for k, v in vars(data).items() if k != "cache_dir"}
    feature_fields = {k: v for k, v in vars(features).items() if not k.startswith("griffin_lim")}
    blob = json.dumps([CACHE_FORMAT, data_fields, feature_fields, fingerprint], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def cache_file(data: DataConfig, key: str) -> Path:
    return cache_root(data) / "features" / f"{data.source}-{key}.pt"


def load_cached(path: Path) -> dict[str, Any] | None:
    """The cached payload, or None when absent or unreadable (it is then rebuilt)."""
    if not path.is_file():
        return None
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # a corrupt cache is not the user's data: rebuild it, never fail on it
        return None
    return payload if isinstance(payload, dict) and payload.get("format") == CACHE_FORMAT else None


def save_cached(path: Path, payload: dict[str, Any]) -> None:
    """Write atomically: a temporary file in the same folder, renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as temporary:
        torch.save({**payload, "format": CACHE_FORMAT}, temporary)
