"""The only place that reads, resamples, levels and trims audio.

File I/O goes through soundfile (torchaudio's own load/save need torchcodec); resampling
through torchaudio. Every data source turns a file into a fixed-length mono clip here, so
they all clean up audio the same way.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
import soundfile
import torch
import torchaudio

from ganaudio.errors import UserError
from ganaudio.files import atomic_write

# File extension -> the libsndfile format that holds it: whatever the installed libsndfile reads
# (soundfile.available_formats()), ganaudio reads. MP3 needs libsndfile 1.1 or newer.
LIBSNDFILE_FORMATS = {".wav": "WAV", ".wave": "WAV", ".flac": "FLAC", ".ogg": "OGG", ".oga": "OGG",
                      ".opus": "OGG", ".aif": "AIFF", ".aiff": "AIFF", ".aifc": "AIFF", ".mp3": "MP3",
                      ".caf": "CAF", ".w64": "W64", ".rf64": "RF64", ".au": "AU", ".snd": "AU"}
AUDIO_EXTENSIONS = tuple(ext for ext, major in LIBSNDFILE_FORMATS.items() if major in soundfile.available_formats())
# Audio files found but not read (no libsndfile reads these containers, or this one lacks the
# format): counted in the summary with the reason, never silently ignored.
UNSUPPORTED_AUDIO_EXTENSIONS = tuple(ext for ext in LIBSNDFILE_FORMATS if ext not in AUDIO_EXTENSIONS) + (
    ".m4a", ".aac", ".wma", ".webm", ".mp4", ".alac", ".ape", ".wv")
SILENCE_PEAK = 1e-4  # a clip whose loudest sample is below -80 dBFS carries no sound


class BadAudioFile(UserError):
    """A file that cannot be used as a clip; `reason` is the short summary category."""

    def __init__(self, path: Path | str, reason: str, detail: str = ""):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}" + (f" ({detail})" if detail else ""))


MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 1_000, 768_000  # Hz: below is not audio, above no recorder makes
MAX_SECONDS = 600  # a file longer than this is a recording to cut into clips, not a clip
MIN_SECONDS = 0.01  # shorter than 10 ms is a click, not a sound


def read_audio(path: Path | str) -> tuple[np.ndarray, int]:
    """Read a file as mono float32 in [-1, 1] (channels averaged) and its sample rate.

    Raises BadAudioFile for anything that is not a usable, non-silent recording.
    """
    path = Path(path)
    if path.suffix.lower() not in AUDIO_EXTENSIONS:
        raise BadAudioFile(path, unsupported_reason(path.suffix))
    if path.suffix.lower() == ".wav":
        _check_wav_not_truncated(path)
    try:
        info = soundfile.info(path)
        # Checked before reading: a header can claim any rate or length, and the samples of an
        # hour at 1 MHz would not fit in memory.
        if not MIN_SAMPLE_RATE <= info.samplerate <= MAX_SAMPLE_RATE:
            raise BadAudioFile(path, "unusable sample rate", f"{info.samplerate} Hz; ganaudio reads "
                               f"{MIN_SAMPLE_RATE:,}-{MAX_SAMPLE_RATE:,} Hz")
        if info.frames > MAX_SECONDS * info.samplerate:
            raise BadAudioFile(path, "too long", f"{info.frames / info.samplerate:.0f} s; ganaudio trains on "
                               f"clips of up to {MAX_SECONDS // 60} minutes")
        samples, sample_rate = soundfile.read(path, dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, OSError) as err:
        raise BadAudioFile(path, "unreadable", str(err).splitlines()[0]) from None
    if samples.shape[0] == 0:
        raise BadAudioFile(path, "empty", "no samples")
    if samples.shape[0] < MIN_SECONDS * sample_rate:
        raise BadAudioFile(path, "too short", f"{1000 * samples.shape[0] / sample_rate:.1f} ms; a clip needs "
                           f"at least {1000 * MIN_SECONDS:.0f} ms")
    mono = samples.mean(axis=1)
    if not np.isfinite(mono).all():
        raise BadAudioFile(path, "NaN or infinite samples")
    if np.abs(mono).max() < SILENCE_PEAK:
        raise BadAudioFile(path, "silent", "peak below -80 dBFS")
    return mono, int(sample_rate)


def file_seconds(path: Path | str) -> float | None:
    """A file's duration from its header alone (no samples decoded), or None where reading it
    would skip it as a bad file (unreadable, an unusable rate or length: read_audio names why)."""
    path = Path(path)
    if path.suffix.lower() not in AUDIO_EXTENSIONS:
        return None
    try:
        info = soundfile.info(path)
    except (soundfile.LibsndfileError, RuntimeError, OSError):
        return None
    if not MIN_SAMPLE_RATE <= info.samplerate <= MAX_SAMPLE_RATE:
        return None
    seconds = info.frames / info.samplerate
    return seconds if MIN_SECONDS <= seconds <= MAX_SECONDS else None


def unsupported_reason(suffix: str) -> str:
    """The summary's reason for an audio file ganaudio cannot read, naming its format."""
    name = suffix.lower().lstrip(".").upper()
    if suffix.lower() in LIBSNDFILE_FORMATS:
        return f"unsupported format: {name} (this libsndfile, {soundfile.__libsndfile_version__}, cannot read it)"
    return f"unsupported format: {name} (libsndfile reads no {name}; convert to WAV or FLAC)"


def _check_wav_not_truncated(path: Path) -> None:
    """Compare the WAV data chunk's declared size with the bytes really there.

    libsndfile quietly reads what is left of a cut-off WAV, so a half-copied file would
    otherwise become a half-length clip; the RIFF walk below is a few lines, no library has it.
    """
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as handle:
            header = handle.read(12)
            if len(header) < 12 or header[:4] not in (b"RIFF", b"RF64") or header[8:12] != b"WAVE":
                return  # not a plain RIFF/WAVE: let soundfile decide
            while True:
                chunk = handle.read(8)
                if len(chunk) < 8:
                    return  # no data chunk: soundfile reports it as unreadable
                chunk_id, chunk_size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
                if chunk_id == b"data":
                    available = size - handle.tell()
                    # 0xFFFFFFFF marks streamed or RF64 files whose size lives elsewhere.
                    if chunk_size != 0xFFFFFFFF and available < chunk_size:
                        raise BadAudioFile(path, "truncated",
                                           f"{available} of {chunk_size} data bytes present")
                    return
                handle.seek(chunk_size + (chunk_size & 1), os.SEEK_CUR)
    except OSError as err:
        raise BadAudioFile(path, "unreadable", str(err)) from None


def resample(waveform: torch.Tensor, orig_rate: int, new_rate: int) -> torch.Tensor:
    """Band-limited resampling (torchaudio's sinc interpolation) along the last axis."""
    if orig_rate == new_rate:
        return waveform
    return torchaudio.functional.resample(waveform, orig_rate, new_rate)


def normalize_level(waveform: torch.Tensor, mode: str, peak_db: float, rms_db: float) -> torch.Tensor:
    """Level one clip: peak to `peak_db` dBFS, or RMS to `rms_db` dBFS with peaks kept <= 0 dBFS."""
    if mode == "none":
        return waveform
    peak = waveform.abs().max().clamp_min(1e-12)
    if mode == "peak":
        return waveform * (10 ** (peak_db / 20) / peak)
    rms = waveform.pow(2).mean().sqrt().clamp_min(1e-12)
    gain = min(float(10 ** (rms_db / 20) / rms), float(1 / peak))
    return waveform * gain


def active_centre(waveform: torch.Tensor, frame: int = 256, floor_db: float = -40.0) -> int:
    """Sample index in the middle of the sounding part: the span of frames within
    `floor_db` of the loudest frame, so leading and trailing silence do not shift it."""
    if waveform.numel() < frame:
        return waveform.numel() // 2
    n_frames = waveform.numel() // frame
    energy = waveform[: n_frames * frame].reshape(n_frames, frame).pow(2).mean(dim=1)
    active = torch.nonzero(energy >= energy.max() * 10 ** (floor_db / 10)).flatten()
    first, last = int(active[0]), int(active[-1])
    return ((first + last + 1) * frame) // 2


ALIGNMENTS = ("centre", "start", "onset")
PRE_ROLL_SECONDS = 0.005  # kept before a detected onset, so the attack's first samples stay
FADE_SECONDS = 0.01  # fade-out where a longer sound is cut, so the cut does not click
ONSET_LEAD_SECONDS, ONSET_HOP, ONSET_N_FFT = 0.1, 64, 512  # see first_onset


def first_onset(waveform: torch.Tensor, sample_rate: int) -> int | None:
    """Sample index of the first onset, or None: librosa's spectral-flux onset detector (made
    for this), backtracked to the energy minimum before the attack.

    The file is preceded by ONSET_LEAD_SECONDS of silence for the detector, so an attack on the
    very first sample (most one-shots) is a rise it can see, and analysed in short frames
    (ONSET_HOP samples). On ../shared/data/drumkits (benchmarks/onsets.py, BENCHMARKS.md) librosa's
    defaults put the onset 12-93 ms after the first sample above -40 dB, cutting the attack, and
    found none in one file; these put all 83 between 11 ms before and 1 ms after it."""
    import librosa  # imported here: only onset alignment needs it, and it is slow to import

    lead = int(ONSET_LEAD_SECONDS * sample_rate)
    padded = np.concatenate([np.zeros(lead, dtype=np.float32), waveform.numpy().astype(np.float32)])
    strength = librosa.onset.onset_strength(y=padded, sr=sample_rate, hop_length=ONSET_HOP, n_fft=ONSET_N_FFT)
    onsets = librosa.onset.onset_detect(onset_envelope=strength, sr=sample_rate, hop_length=ONSET_HOP,
                                        units="samples", backtrack=True)
    return max(int(onsets[0]) - lead, 0) if len(onsets) else None


def fit_length(waveform: torch.Tensor, length: int, align: str = "centre",
               sample_rate: int | None = None) -> tuple[torch.Tensor, int]:
    """Crop or zero-pad a 1-D clip to `length` samples.

    `centre` puts the sounding part in the middle (speech); `start` takes the file from its
    first sample and `onset` from just before its first onset (one-shots: the attack at the
    start, as samplers play them), padding with silence after the sound and fading out the
    last FADE_SECONDS where a longer sound is cut. Returns the clip and how many samples of sound
    were cut off (0: none): from the clip's ends to the first and last samples above -60 dB of
    the file's peak (for `start` and `onset`, only after the clip); ValueError when `onset`
    finds none (the caller names the file)."""
    if align not in ALIGNMENTS:
        raise ValueError(f"align must be one of {', '.join(ALIGNMENTS)}, got {align!r}")
    if align != "centre" and not sample_rate:
        raise ValueError(f"align {align!r} needs the sample rate (pre-roll, fade and onset are in seconds)")
    if align == "centre":
        centre = active_centre(waveform) if waveform.numel() > length else waveform.numel() // 2
        start = centre - length // 2
    elif align == "start":
        start = 0
    else:
        onset = first_onset(waveform, sample_rate)
        if onset is None:
            raise ValueError("no onset found")
        start = max(onset - int(PRE_ROLL_SECONDS * sample_rate), 0)
    out = waveform.new_zeros(length)
    src_from, src_to = max(start, 0), min(start + length, waveform.numel())
    out[src_from - start: src_to - start] = waveform[src_from:src_to]
    # Only sound (above -60 dB of the file's peak) left outside the clip is a cut: silence is not.
    audible = torch.nonzero(waveform.abs() > 1e-3 * waveform.abs().max()).flatten()
    first, last = (int(audible[0]), int(audible[-1])) if audible.numel() else (0, -1)
    cut = max(last + 1 - src_to, 0)
    if align == "centre":  # cut at both ends; the onset's pre-roll and a file's start are not sound lost
        return out, cut + max(src_from - first, 0)
    if cut:
        fade = min(int(FADE_SECONDS * sample_rate), length)
        out[length - fade:] *= torch.linspace(1.0, 0.0, fade, dtype=out.dtype)
    return out, cut


def write_wav(path: Path | str, waveform: torch.Tensor, sample_rate: int) -> Path:
    """Write a mono clip as 16-bit PCM WAV, atomically (temporary file, then rename)."""
    path = Path(path)
    samples = waveform.detach().float().cpu().clamp(-1, 1).numpy()
    with atomic_write(path) as temporary:
        soundfile.write(temporary, samples, sample_rate, subtype="PCM_16", format="WAV")
    return path
