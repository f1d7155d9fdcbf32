"""Audio I/O shared by the services: decode anything (soundfile, then PyAV for containers), resample, write WAV."""

from __future__ import annotations

import errno
import struct
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from common.errors import TooLarge, Unprocessable
from common.files import atomic_target

FloatArray = np.ndarray


class AudioDecodeError(ValueError):
    """The file could not be decoded as audio; the message names the file."""


def load_audio(path: Path, sample_rate: int | None = None, max_seconds: float | None = None) -> tuple[FloatArray, int]:
    """Decode `path` to mono float32, optionally resampled and cut to `max_seconds`.

    soundfile handles WAV/FLAC/OGG/MP3; anything else (m4a, video containers) goes through PyAV.
    """
    if not path.is_file():
        raise FileNotFoundError(f"{path.name} does not exist")
    try:
        samples, rate = _load_with_soundfile(path)
    except (sf.LibsndfileError, RuntimeError, TypeError):
        samples, rate = _load_with_pyav(path)
    if samples.size == 0:
        raise AudioDecodeError(f"{path.name} contains no audio")
    if max_seconds is not None:
        samples = samples[: int(max_seconds * rate)]
    if sample_rate is not None and sample_rate != rate:
        samples = resample(samples, rate, sample_rate)
        rate = sample_rate
    return samples, rate


def _load_with_soundfile(path: Path) -> tuple[FloatArray, int]:
    data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    return data.mean(axis=1).astype(np.float32), int(rate)


def _load_with_pyav(path: Path) -> tuple[FloatArray, int]:
    import av  # imported here: only containers that libsndfile cannot read need it

    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise AudioDecodeError(f"{path.name} has no audio stream")
            stream = container.streams.audio[0]
            resampler = av.AudioResampler(format="flt", layout="mono")
            chunks: list[FloatArray] = []
            rate = 0
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    rate = out.sample_rate
                    chunks.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
    except av.FFmpegError as exc:
        raise AudioDecodeError(f"{path.name} is not a readable audio or video file") from exc
    if not chunks or rate == 0:
        raise AudioDecodeError(f"{path.name} contains no audio")
    return np.concatenate(chunks).astype(np.float32), rate


def resample(samples: FloatArray, rate_in: int, rate_out: int) -> FloatArray:
    return np.asarray(soxr.resample(samples, rate_in, rate_out), dtype=np.float32)


def write_wav(path: Path, samples: FloatArray, sample_rate: int) -> None:
    """Write 16-bit PCM atomically: readers never see a half-written file."""
    with atomic_target(path, ".wav.part") as partial:
        try:
            sf.write(partial, np.clip(samples, -1.0, 1.0), sample_rate, subtype="PCM_16", format="WAV")
        except sf.LibsndfileError as exc:  # not an OSError: a full disk would otherwise answer 500
            # The format is fixed and valid, so a failed write is the storage's: report it as such.
            raise OSError(errno.ENOSPC, f"cannot write the audio ({exc})", str(path)) from exc


def rms_dbfs(samples: FloatArray) -> float:
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if samples.size else 0.0
    return 20.0 * float(np.log10(max(rms, 1e-10)))


def streaming_wav_header(sample_rate: int) -> bytes:
    """A 16-bit mono WAV header for a stream of unknown length (sizes set to the maximum, as players expect)."""
    unknown = 0xFFFFFFFF
    fmt = struct.pack("<HHIIHH", 1, 1, sample_rate, sample_rate * 2, 2, 16)
    return (
        b"RIFF"
        + struct.pack("<I", unknown)
        + b"WAVEfmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"data"
        + (struct.pack("<I", unknown))
    )


def to_pcm16(samples: FloatArray) -> bytes:
    return (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()


def read_recording(path: Path, name: str, rate: int, max_seconds: float, setting: str, use: str) -> FloatArray:
    """An uploaded recording as mono float32 at `rate`: its length checked from the header first when it has one
    (413 past `max_seconds`), 422 naming the upload (not the temporary file) when it is not audio."""
    declared = declared_duration_s(path)
    if declared is not None and declared > max_seconds:
        raise TooLarge(f"'{name}' is {declared:.0f} s long; the limit is {max_seconds:g} s ({setting})")
    try:
        samples, _ = load_audio(path, sample_rate=rate)
    except AudioDecodeError as exc:
        raise Unprocessable(f"'{name}' cannot be used as {use}: {str(exc).replace(path.name, name)}") from exc
    if len(samples) / rate > max_seconds:
        raise TooLarge(f"'{name}' is longer than {max_seconds:g} s ({setting})")
    return samples


def declared_duration_s(path: Path) -> float | None:
    """The length a container's header declares, without decoding (None when it declares none)."""
    import av

    try:
        with av.open(str(path)) as container:
            return None if container.duration is None else container.duration / av.time_base
    except av.FFmpegError:
        return None  # the decoder will say what is wrong
