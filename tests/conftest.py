"""Shared fixtures: an isolated cache per test, tiny generated audio, and the real data in
../shared/data (tests that need it skip with a reason when it is absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import tone, write_wav

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
FSDD_RECORDINGS = SHARED_DATA / "fsdd" / "recordings"
MNIST_DIR = SHARED_DATA / "mnist"
DRUMS_DIR = SHARED_DATA / "drumkits"


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch) -> Path:
    """Every test gets its own cache folder: no test reads another's cache or ~/.cache."""
    cache = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("GANAUDIO_CACHE", str(cache))
    return cache


@pytest.fixture(scope="session")
def fsdd_dir() -> Path:
    if not FSDD_RECORDINGS.is_dir():
        pytest.skip(f"real FSDD data not found at {FSDD_RECORDINGS} (see ../shared/data/README.md)")
    return FSDD_RECORDINGS


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    if not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"real MNIST data not found at {MNIST_DIR} (see ../shared/data/README.md)")
    return MNIST_DIR


@pytest.fixture(scope="session")
def drums_dir() -> Path:
    if not (DRUMS_DIR / "kick").is_dir():
        pytest.skip(f"the real drum kit not found at {DRUMS_DIR} (see ../shared/data/README.md)")
    return DRUMS_DIR


@pytest.fixture
def labelled_folder(tmp_path) -> Path:
    """Two labels as sub-folders, 3 clips each, at mixed sample rates and channel counts."""
    root = tmp_path / "clips"
    for label, freq in (("low", 220.0), ("high", 1200.0)):
        for i in range(3):
            rate = (8000, 16000, 22050)[i]
            write_wav(root / label / f"{label}_{i}.wav", tone(0.3 + 0.1 * i, rate, freq, channels=1 + i % 2), rate)
    return root
