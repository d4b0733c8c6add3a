"""Reading, levelling and trimming audio: each bad file is named and classified."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile
import torch

from ganaudio.audio import BadAudioFile, fit_length, normalize_level, read_audio, resample
from tests.helpers import tone, write_wav


def test_read_mixes_stereo_down_to_mono(tmp_path):
    path = write_wav(tmp_path / "s.wav", tone(0.2, 16000, channels=2), 16000)
    samples, rate = read_audio(path)
    assert rate == 16000 and samples.ndim == 1 and samples.dtype == np.float32
    assert len(samples) == 3200


@pytest.mark.parametrize("make, reason", [
    (lambda p: p.write_bytes(b"not audio at all" * 10), "unreadable"),
    (lambda p: write_wav(p, np.zeros(0, dtype=np.float32)), "empty"),
    (lambda p: write_wav(p, np.zeros(4000, dtype=np.float32)), "silent"),
    (lambda p: write_wav(p, np.full(4000, np.nan, dtype=np.float32), subtype="FLOAT"), "NaN"),
])
def test_bad_files_raise_with_reason(tmp_path, make, reason):
    path = tmp_path / "bad.wav"
    make(path)
    with pytest.raises(BadAudioFile) as caught:
        read_audio(path)
    assert reason in caught.value.reason and str(path) in str(caught.value)


def test_truncated_wav_is_detected(tmp_path):
    whole = write_wav(tmp_path / "whole.wav", tone(0.5, 8000)).read_bytes()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(BadAudioFile, match="truncated"):
        read_audio(cut)


def test_unsupported_extension(tmp_path):
    path = tmp_path / "a.m4a"
    path.write_bytes(b"ftypM4A")
    with pytest.raises(BadAudioFile, match=r"unsupported format: M4A \(libsndfile reads no M4A; convert"):
        read_audio(path)


# (file name, soundfile format, subtype): every format users' tools write that libsndfile reads,
# extensions in upper and lower case.
FORMATS = [("pcm16.wav", "WAV", "PCM_16"), ("pcm24.WAV", "WAV", "PCM_24"), ("pcm32.wav", "WAV", "PCM_32"),
           ("float.wav", "WAV", "FLOAT"), ("lossless.flac", "FLAC", "PCM_24"), ("vorbis.ogg", "OGG", "VORBIS"),
           ("speech.opus", "OGG", "OPUS"), ("sampler.aif", "AIFF", "PCM_16"), ("daw.AIFF", "AIFF", "PCM_24"),
           ("web.mp3", "MP3", "MPEG_LAYER_III")]


@pytest.mark.parametrize("name, major, subtype", FORMATS, ids=[f[0] for f in FORMATS])
def test_every_format_libsndfile_writes_is_read(tmp_path, name, major, subtype):
    rate = 48000 if subtype == "OPUS" else 44100  # Opus runs at 48 kHz only
    path = tmp_path / name
    soundfile.write(path, tone(0.5, rate, freq=1000.0, channels=2), rate, format=major, subtype=subtype)
    samples, read_rate = read_audio(path)
    assert read_rate == rate and samples.ndim == 1  # mixed down
    # Lossy codecs add delay and padding: the length is about right, and the tone is the tone.
    assert abs(len(samples) - rate // 2) < 0.05 * rate
    spectrum = np.abs(np.fft.rfft(samples))
    assert abs(np.argmax(spectrum) * rate / len(samples) - 1000.0) < 10.0
    assert 0.3 < np.abs(samples).max() < 0.7


def test_resample_changes_length_and_keeps_pitch():
    wave = torch.from_numpy(tone(1.0, 16000, freq=500.0))
    out = resample(wave, 16000, 8000)
    assert out.shape == (8000,)
    spectrum = torch.fft.rfft(out).abs()
    assert abs(int(spectrum.argmax()) - 500) <= 2  # 1 Hz bins at 8 kHz over 1 s


def test_peak_and_rms_normalization():
    wave = torch.from_numpy(tone(0.5, 8000, amplitude=0.1))
    peak = normalize_level(wave, "peak", peak_db=-6.0, rms_db=-20.0)
    assert float(peak.abs().max()) == pytest.approx(10 ** (-6 / 20), rel=1e-4)
    rms = normalize_level(wave, "rms", peak_db=-1.0, rms_db=-20.0)
    assert float(rms.pow(2).mean().sqrt()) == pytest.approx(0.1, rel=1e-3)
    loud = normalize_level(wave, "rms", peak_db=-1.0, rms_db=-1.0)
    assert float(loud.abs().max()) <= 1.0 + 1e-6  # RMS target never clips


def test_fit_length_pads_and_crops_with_sound_centred():
    burst = torch.zeros(1000)
    burst[100:300] = 1.0  # a sound off-centre in a short file
    padded, cropped = fit_length(burst, 4000)
    assert padded.shape == (4000,) and not cropped
    long = torch.zeros(20000)
    long[15000:17000] = 0.5  # the sound near the end of a long file
    out, cropped = fit_length(long, 4000)
    assert cropped and out.shape == (4000,)
    active = torch.nonzero(out).flatten()
    assert active.numel() == 2000  # the whole sound kept
    assert abs((int(active[0]) + int(active[-1])) / 2 - 2000) < 300  # and centred
