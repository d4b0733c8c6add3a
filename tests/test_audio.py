"""Reading, levelling and trimming audio: each bad file is named and classified."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import soundfile
import torch

import ganaudio.audio
from ganaudio.audio import FADE_SECONDS, BadAudioFile, fit_length, normalize_level, read_audio, resample
from ganaudio.config import DataConfig, FeatureConfig
from ganaudio.data.clips import ClipFile, DataSummary, read_clip_files
from ganaudio.errors import UserError
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
    out, cut = fit_length(long, 4000)
    assert not cut and out.shape == (4000,)  # silence around the sound is not a cut
    active = torch.nonzero(out).flatten()
    assert active.numel() == 2000  # the whole sound kept
    longer = torch.zeros(20000)
    longer[5000:15000] = 0.5  # 10,000 samples of sound in a 4,000-sample clip
    out, cut = fit_length(longer, 4000)
    assert cut == 6000 and torch.count_nonzero(out) == 4000
    assert abs((int(active[0]) + int(active[-1])) / 2 - 2000) < 300  # and centred


def drum_hit(silence: float, seconds: float, rate: int, decay: float = 8.0) -> torch.Tensor:
    """Silence, then a decaying noise burst (a one-shot's attack and tail)."""
    t = torch.arange(int(seconds * rate)) / rate
    hit = torch.randn(len(t), generator=torch.Generator().manual_seed(0)) * torch.exp(-t * decay)
    return torch.cat([torch.zeros(int(silence * rate)), 0.8 * hit])


def test_onset_alignment_puts_the_attack_at_the_start_and_pads_after():
    rate = 22050
    clip, cropped = fit_length(drum_hit(0.3, 0.4, rate), rate, "onset", rate)  # 1 s clip of a 0.7 s file
    assert not cropped
    attack = int(torch.nonzero(clip.abs() > 0.1).flatten()[0])
    assert attack <= int(0.012 * rate)  # within the 5 ms pre-roll and the detector's frame of the start
    assert clip[int(0.45 * rate):].abs().max() == 0  # silence after the sound, none before it


def test_start_and_onset_cut_long_sounds_with_a_fade_and_keep_the_attack():
    rate, half = 22050, 11025
    ring = drum_hit(0.0, 3.0, rate, decay=1.0)  # a cymbal longer than the clip, attack on the first sample
    fade = int(FADE_SECONDS * rate)
    for align in ("start", "onset"):
        clip, cropped = fit_length(ring, half, align, rate)
        assert cropped
        assert torch.equal(clip[:half - fade], ring[:half - fade])  # attack and body as they were
        assert torch.allclose(clip[half - fade:], ring[half - fade:half] * torch.linspace(1, 0, fade))  # no click
    centred, cropped = fit_length(ring, half)
    assert cropped and not torch.equal(centred[:1000], ring[:1000])  # centre cuts the attack off


def test_a_file_with_no_onset_is_a_bad_file_for_onset_alignment(tmp_path, monkeypatch):
    write_wav(tmp_path / "hum.wav", tone(0.5, 8000))
    monkeypatch.setattr(ganaudio.audio, "first_onset", lambda waveform, rate: None)
    files, data = [ClipFile(tmp_path / "hum.wav", None)], DataConfig(align="onset")
    with pytest.raises(BadAudioFile, match="hum.wav: no onset found"):
        read_clip_files(files, dataclasses.replace(data, on_bad_file="error"), FeatureConfig(), DataSummary("folder"))
    summary = DataSummary("folder")
    with pytest.raises(UserError, match=r"none of the 1 audio files could be used \(no onset found\)"):
        read_clip_files(files, data, FeatureConfig(), summary)
    assert summary.skipped == {"no onset found": [str(tmp_path / "hum.wav")]}


def test_a_file_shorter_than_10_ms_is_too_short(tmp_path):
    write_wav(tmp_path / "click.wav", np.full(40, 0.5, dtype=np.float32))  # 5 ms at 8 kHz
    with pytest.raises(BadAudioFile, match="click.wav: too short"):
        read_audio(tmp_path / "click.wav")


def test_a_silent_tail_is_not_a_cut_and_unknown_alignments_are_refused():
    rate = 8000
    short_sound = torch.cat([drum_hit(0.0, 0.05, rate), torch.zeros(rate)])  # 50 ms, then a second of silence
    clip, cropped = fit_length(short_sound, rate // 2, "start", rate)
    assert not cropped and torch.equal(clip, short_sound[: rate // 2])  # not faded either
    with pytest.raises(ValueError, match="align must be one of"):
        fit_length(short_sound, rate, "center", rate)
    with pytest.raises(ValueError, match="needs the sample rate"):
        fit_length(short_sound, rate, "onset")
