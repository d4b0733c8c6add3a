"""Which torch/torchaudio pairs work, and what each costs to install: the measurements behind
the pins in pyproject.toml.

    python benchmarks/install_matrix.py [--pair TORCH TORCHAUDIO ...] [--workdir DIR]

For each pair, a fresh virtual environment gets `pip install torch==T torchaudio==A` (pip's
download cache is shared between pairs), then a new interpreter imports torchaudio and runs
every torchaudio function ganaudio calls. A row reports whether that worked (or the error's
last line), the wheels pip downloads for the pair, the environment's size on disk and the
install time. Each environment is deleted before the next is made. The pip settings of the
calling environment apply (on a machine whose pip config caps torch, run a newer pair with
PIP_CONFIG_FILE=/dev/null).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# One release of each torch minor version since torchaudio 2.11, against both torchaudio 2.11s.
DEFAULT_PAIRS = [(torch, torchaudio) for torch in ("2.11.0", "2.12.1", "2.13.0", "2.14.1", "2.15.0")
                 for torchaudio in ("2.11.0", "2.11.1")]

# Every torchaudio call ganaudio makes (features, inversion, resampling, evaluation), run once.
USES_TORCHAUDIO = """
import torch, torchaudio
wave = torch.randn(2, 8000)
mel = torchaudio.transforms.MelSpectrogram(sample_rate=8000, n_fft=512, hop_length=96, n_mels=64)(wave)
fb = torchaudio.functional.melscale_fbanks(257, 0.0, 4000.0, 64, 8000)
linear = (torch.linalg.pinv(fb.T) @ mel).clamp(min=0).sqrt()
audio = torchaudio.transforms.GriffinLim(n_fft=512, hop_length=96, n_iter=4)(linear)
up = torchaudio.functional.resample(wave, 8000, 16000)
assert torch.isfinite(audio).all() and up.shape[-1] == 16000
print(f"torch {torch.__version__} (CUDA build: {torch.version.cuda or 'none'}), torchaudio {torchaudio.__version__}: ok")
"""


def pip(python: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(python), "-m", "pip", *args], capture_output=True, text=True)


def last_line(text: str) -> str:
    """The line that says why: a loader's message where there is one, else the last line."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    loader = [line for line in lines if "undefined symbol" in line or "cannot open shared object" in line]
    return (loader or lines or ["(no output)"])[-1]


def folder_megabytes(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink()) / 2**20


def measure_pair(torch_version: str, torchaudio_version: str, workdir: Path) -> dict:
    requirements = [f"torch=={torch_version}", f"torchaudio=={torchaudio_version}"]
    env_dir = workdir / "venv"
    wheels_dir = workdir / "wheels"
    shutil.rmtree(env_dir, ignore_errors=True)
    shutil.rmtree(wheels_dir, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(env_dir)], check=True)
    python = env_dir / "bin" / "python"
    row = {"torch": torch_version, "torchaudio": torchaudio_version}
    downloaded = pip(python, "download", "-q", "-d", str(wheels_dir), *requirements)
    if downloaded.returncode != 0:
        return {**row, "result": f"does not resolve: {last_line(downloaded.stderr)}"}
    row["download_mb"] = folder_megabytes(wheels_dir)
    start = time.perf_counter()
    installed = pip(python, "install", "-q", *requirements)
    row["install_s"] = time.perf_counter() - start
    if installed.returncode != 0:
        return {**row, "result": f"install failed: {last_line(installed.stderr)}"}
    row["venv_mb"] = folder_megabytes(env_dir)
    used = subprocess.run([str(python), "-c", USES_TORCHAUDIO], capture_output=True, text=True)
    row["result"] = last_line(used.stdout) if used.returncode == 0 else f"FAILS: {last_line(used.stderr)}"
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pair", nargs=2, action="append", metavar=("TORCH", "TORCHAUDIO"),
                        help="versions to try (repeatable; default: the pairs in DEFAULT_PAIRS)")
    parser.add_argument("--workdir", type=Path, help="where the environments go (default: a temporary folder)")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="install-matrix-", dir=args.workdir))
    print("| torch | torchaudio | download (MB) | environment (MB) | install (s) | result |")
    print("| --- | --- | ---: | ---: | ---: | --- |")
    try:
        for torch_version, torchaudio_version in args.pair or DEFAULT_PAIRS:
            row = measure_pair(torch_version, torchaudio_version, workdir)
            cells = [f"{row[k]:.0f}" if k in row else "-" for k in ("download_mb", "venv_mb", "install_s")]
            print(f"| {torch_version} | {torchaudio_version} | {' | '.join(cells)} | {row['result']} |", flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
