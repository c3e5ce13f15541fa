"""Bad and odd recordings, generated on the fly (nothing binary is committed).

Every generator writes one file and returns its path. Speech comes from a sample_data call
(re-encoded, resampled, clipped, cut); tones, hold music and silence are synthesised.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import av
import numpy as np

#: A sample call with speech from its first second (agent greeting), used as the speech source.
SPEECH_SOURCE = "ct_direct_debit.opus"

#: (codec, container format, file suffix, sample rate, channels) for every audio codec a phone
#: system or an export tool plausibly writes; those this FFmpeg cannot encode are skipped.
CODECS = [
    ("pcm_s16le", "wav", ".wav", 8000, 2),
    ("pcm_u8", "wav", ".wav", 8000, 2),
    ("pcm_f32le", "wav", ".wav", 8000, 2),
    ("pcm_mulaw", "wav", ".wav", 8000, 2),
    ("pcm_alaw", "wav", ".wav", 8000, 2),
    ("adpcm_ms", "wav", ".wav", 8000, 2),
    ("adpcm_ima_wav", "wav", ".wav", 8000, 2),
    ("g726", "wav", ".wav", 8000, 1),
    ("gsm_ms", "wav", ".wav", 8000, 1),
    ("libmp3lame", "mp3", ".mp3", 8000, 2),
    ("aac", "mp4", ".m4a", 8000, 2),
    ("alac", "mp4", ".m4a", 8000, 2),
    ("flac", "flac", ".flac", 8000, 2),
    ("libopus", "ogg", ".opus", 8000, 2),
    ("libvorbis", "ogg", ".ogg", 8000, 2),
    ("wmav2", "asf", ".wma", 8000, 2),
    ("libopencore_amrnb", "amr", ".amr", 8000, 1),
    ("g723_1", "wav", ".wav", 8000, 1),
]


def can_encode(codec: str) -> bool:
    try:
        av.codec.Codec(codec, "w")
    except Exception:  # unknown to this FFmpeg build
        return False
    return True


def decode(path: Path, rate: int = 8000) -> np.ndarray:
    """A file as float32 (channels, samples) at `rate`, for building variants."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        layout = "stereo" if (stream.codec_context.channels or 1) > 1 else "mono"
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
        parts = [f.to_ndarray() for fr in container.decode(stream) for f in resampler.resample(fr)]
        parts += [f.to_ndarray() for f in resampler.resample(None)]
    return np.concatenate(parts, axis=1).astype(np.float32)


def encode(
    path: Path,
    signal: np.ndarray,
    *,
    rate: int = 8000,
    codec: str = "pcm_s16le",
    fmt: str = "wav",
    bit_rate: int | None = None,
    chunk_s: float = 20.0,
) -> Path:
    """Write float32 (channels, samples) in [-1, 1] with one codec; chunked for long calls."""
    channels = signal.shape[0]
    layout = "stereo" if channels == 2 else "mono"
    with av.open(str(path), "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=rate, layout=layout)
        if bit_rate:
            stream.bit_rate = bit_rate
        step = int(chunk_s * rate)
        pts = 0
        for start in range(0, signal.shape[1], step):
            piece = np.ascontiguousarray(signal[:, start : start + step], dtype=np.float32)
            frame = av.AudioFrame.from_ndarray(piece, format="fltp", layout=layout)
            frame.sample_rate = rate
            frame.pts = pts
            pts += piece.shape[1]
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def speech(recordings: Path, seconds: float, rate: int = 8000) -> np.ndarray:
    """The first `seconds` of the speech source, stereo (agent left, caller right)."""
    return decode(recordings / SPEECH_SOURCE, rate)[:, : int(seconds * rate)]


def tones(freqs: list[tuple[float, float]], on_s: float, off_s: float, rate: int = 8000):
    """Dual-tone bursts (DTMF), on both channels."""
    t = np.arange(int(on_s * rate)) / rate
    gap = np.zeros(int(off_s * rate), np.float32)
    parts = []
    for low, high in freqs:
        parts += [0.25 * (np.sin(2 * np.pi * low * t) + np.sin(2 * np.pi * high * t)), gap]
    mono = np.concatenate(parts).astype(np.float32)
    return np.stack([mono, mono])


def hold_music(seconds: float, rate: int = 8000) -> np.ndarray:
    """A looping, slightly harmonic melody with a bass line: what a queue plays."""
    notes = [262, 330, 392, 523, 494, 392, 330, 294, 349, 440, 523, 440]
    beat = 0.3
    t = np.arange(int(beat * rate)) / rate
    envelope = np.minimum(1, t / 0.02) * np.exp(-3 * t)
    melody = []
    for i in range(int(seconds / beat)):
        f = notes[i % len(notes)]
        bass = notes[(i // 4) % len(notes)] / 2
        tone = np.sin(2 * np.pi * f * t) + 0.4 * np.sin(4 * np.pi * f * t)
        melody.append(0.3 * envelope * tone + 0.15 * np.sin(2 * np.pi * bass * t))
    mono = np.concatenate(melody).astype(np.float32)
    # Music on the agent's side (the caller is on hold), line hiss on the caller's.
    hiss = np.random.default_rng(0).normal(0, 0.002, mono.size).astype(np.float32)
    return np.stack([mono, hiss])


# -- the bad-recording corpus: name -> builder(recordings, folder) -> path ---------------


def _empty(rec: Path, folder: Path) -> Path:
    path = folder / "empty.opus"
    path.write_bytes(b"")
    return path


def _truncated(rec: Path, folder: Path) -> Path:
    path = folder / "truncated.opus"
    path.write_bytes((rec / SPEECH_SOURCE).read_bytes()[:3000])
    return path


def _truncated_wav(rec: Path, folder: Path) -> Path:
    whole = encode(folder / "whole.wav", speech(rec, 4.0))
    path = folder / "truncated.wav"
    path.write_bytes(whole.read_bytes()[:1000])  # header promises 4 s, 0.06 s present
    whole.unlink()
    return path


def _not_audio(rec: Path, folder: Path) -> Path:
    path = folder / "notes.opus"
    path.write_text("Dear council, this is a text file with an audio name.\n" * 20)
    return path


def _random_bytes(rec: Path, folder: Path) -> Path:
    path = folder / "garbage.wav"
    path.write_bytes(np.random.default_rng(1).bytes(64_000))
    return path


def _png(rec: Path, folder: Path) -> Path:
    path = folder / "picture.wav"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40)
    return path


def _directory(rec: Path, folder: Path) -> Path:
    path = folder / "a_folder.opus"
    path.mkdir()
    return path


def _zero_length_stereo(rec: Path, folder: Path) -> Path:
    import wave

    path = folder / "zero_stereo.wav"
    with wave.open(str(path), "wb") as out:  # a valid header for 2 x 16-bit, no frames
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(8000)
    return path


def _half_second(rec: Path, folder: Path) -> Path:
    return encode(folder / "half_second.wav", speech(rec, 0.5))


def _silence(rec: Path, folder: Path) -> Path:
    return encode(folder / "silence.opus", np.zeros((2, 8000 * 30), np.float32), codec="libopus",
                  fmt="ogg")  # fmt: skip


def _dtmf(rec: Path, folder: Path) -> Path:
    keypad = {"1": (697, 1209), "4": (770, 1209), "7": (852, 1209), "0": (941, 1336),
              "5": (770, 1336), "9": (852, 1477), "#": (941, 1477)}  # fmt: skip
    digits = "1470594#" * 3
    return encode(folder / "dtmf.wav", tones([keypad[d] for d in digits], 0.15, 0.12))


def _hold_music(rec: Path, folder: Path) -> Path:
    return encode(folder / "hold_music.opus", hold_music(45.0), codec="libopus", fmt="ogg")


def _clipped(rec: Path, folder: Path) -> Path:
    return encode(folder / "clipped.wav", np.clip(speech(rec, 10.0) * 30, -1, 1))


def _khz48(rec: Path, folder: Path) -> Path:
    return encode(folder / "khz48.wav", speech(rec, 10.0, rate=48_000), rate=48_000)


def _mono_as_identical_stereo(rec: Path, folder: Path) -> Path:
    clip = speech(rec, 8.0)
    return encode(folder / "dual_mono.wav", np.stack([clip[0], clip[0]]))


def _one_channel_dead(rec: Path, folder: Path) -> Path:
    clip = speech(rec, 8.0)
    return encode(folder / "caller_dead.wav", np.stack([clip[0], np.zeros_like(clip[0])]))


def _six_channels(rec: Path, folder: Path) -> Path:
    clip = speech(rec, 6.0)
    path = folder / "six.wav"
    with av.open(str(path), "w", format="wav") as container:
        stream = container.add_stream("pcm_s16le", rate=8000, layout="5.1")
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(np.vstack([clip, clip, clip])), format="fltp", layout="5.1"
        )
        frame.sample_rate = 8000
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    return path


def _video_only(rec: Path, folder: Path) -> Path:
    path = folder / "video_only.mp4"
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=5)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for i in range(5):
            frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), i * 40, np.uint8), "rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def _symlink_loop(rec: Path, folder: Path) -> Path:
    path = folder / "loop.opus"
    path.symlink_to(path.name)
    return path


def _fifo(rec: Path, folder: Path) -> Path:
    import os

    path = folder / "pipe.opus"
    os.mkfifo(path)
    return path


def _copy(rec: Path, folder: Path) -> Path:
    return Path(shutil.copy(rec / SPEECH_SOURCE, folder / "good.opus"))


#: name -> (builder, the statuses it may get). Unreadable files must say so; files with only
#: noise, tones or music must give no words at all.
BAD_RECORDINGS = {
    "empty": (_empty, {"unreadable"}),
    "truncated_opus": (_truncated, {"unreadable", "ok", "no_speech"}),
    # Its header declares 4 s: a recording fault (issue 17), not a silent call.
    "truncated_wav": (_truncated_wav, {"recording_fault"}),
    "not_audio": (_not_audio, {"unreadable"}),
    "random_bytes": (_random_bytes, {"unreadable"}),
    "png": (_png, {"unreadable"}),
    "directory": (_directory, {"unreadable"}),
    "zero_length_stereo": (_zero_length_stereo, {"unreadable", "no_speech"}),
    "video_only": (_video_only, {"unreadable"}),
    "symlink_loop": (_symlink_loop, {"unreadable"}),
    "half_second": (_half_second, {"ok", "no_speech"}),
    "silence": (_silence, {"no_speech"}),
    "dtmf": (_dtmf, {"no_speech"}),
    "hold_music": (_hold_music, {"no_speech"}),
    "clipped": (_clipped, {"recording_fault"}),
    "khz48": (_khz48, {"ok"}),
    "dual_mono": (_mono_as_identical_stereo, {"ok"}),
    "caller_dead": (_one_channel_dead, {"recording_fault"}),
    "six_channels": (_six_channels, {"ok"}),
}
#: Recordings that must give no words at all (a hallucination would be a false transcript).
WORDLESS = {"silence", "dtmf", "hold_music", "zero_length_stereo"}
