"""Audio I/O shared by the services: decode anything (soundfile, then PyAV for containers), resample, write WAV."""

from __future__ import annotations

import errno
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from common.errors import TooLarge, Unprocessable
from common.storage.files import atomic_target

FloatArray = np.ndarray


class AudioDecodeError(ValueError):
    """The file could not be decoded as audio; the message names the file."""


BLOCK_FRAMES = 1 << 16


@dataclass(frozen=True)
class Decoded:
    samples: FloatArray  # mono float32
    rate: int
    cut: bool  # the file goes on past the limit it was decoded to


def load_audio(path: Path, sample_rate: int | None = None, max_seconds: float | None = None) -> tuple[FloatArray, int]:
    """Decode `path` to mono float32, optionally resampled; with `max_seconds`, only that much is decoded.

    soundfile handles WAV/FLAC/OGG/MP3; anything else (m4a, video containers) goes through PyAV.
    """
    decoded = decode_audio(path, sample_rate, max_seconds)
    return decoded.samples, decoded.rate


def decode_audio(path: Path, sample_rate: int | None = None, max_seconds: float | None = None) -> Decoded:
    """As load_audio, saying whether the file goes on past `max_seconds`. Decoding stops there whatever the header
    declares (a voided or zero length, a lie): memory follows the limit, not the file."""
    if not path.is_file():
        raise FileNotFoundError(f"{path.name} does not exist")
    try:
        decoded = _decode_with_soundfile(path, max_seconds)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError):
        decoded = _decode_with_pyav(path, max_seconds)
    if decoded.samples.size == 0:
        raise AudioDecodeError(f"{path.name} contains no audio")
    if sample_rate is not None and sample_rate != decoded.rate:
        return Decoded(resample(decoded.samples, decoded.rate, sample_rate), sample_rate, decoded.cut)
    return decoded


class _Gathered:
    """Decoded blocks, up to a limit in samples (None: all)."""

    def __init__(self, max_seconds: float | None) -> None:
        self.max_seconds = max_seconds
        self.chunks: list[FloatArray] = []
        self.count = 0
        self.rate = 0

    def add(self, block: FloatArray, rate: int) -> bool:
        """Keep `block`; False once the limit is passed (stop decoding)."""
        self.rate = rate
        self.chunks.append(block)
        self.count += len(block)
        return not self.full

    @property
    def full(self) -> bool:
        return self.max_seconds is not None and self.count > self.max_seconds * self.rate

    def result(self) -> Decoded:
        samples = np.concatenate(self.chunks).astype(np.float32) if self.chunks else np.zeros(0, np.float32)
        cut = self.full
        if cut and self.max_seconds is not None:
            samples = samples[: int(self.max_seconds * self.rate)]
        return Decoded(samples, self.rate, cut)


def _decode_with_soundfile(path: Path, max_seconds: float | None) -> Decoded:
    gathered = _Gathered(max_seconds)
    with sf.SoundFile(str(path)) as audio:
        # Block by block: a header that declares no length (or a wrong one) cannot make one huge allocation.
        while len(block := audio.read(BLOCK_FRAMES, dtype="float32", always_2d=True)):
            if not gathered.add(block.mean(axis=1).astype(np.float32), int(audio.samplerate)):
                break
    return gathered.result()


def _decode_with_pyav(path: Path, max_seconds: float | None) -> Decoded:
    import av  # imported here: only containers that libsndfile cannot read need it

    gathered = _Gathered(max_seconds)
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise AudioDecodeError(f"{path.name} has no audio stream")
            stream = container.streams.audio[0]
            resampler = av.AudioResampler(format="flt", layout="mono")
            for frame in container.decode(stream):
                blocks = resampler.resample(frame)
                if not all(gathered.add(out.to_ndarray().reshape(-1), out.sample_rate) for out in blocks):
                    break
            else:
                for out in resampler.resample(None):
                    gathered.add(out.to_ndarray().reshape(-1), out.sample_rate)
    except av.FFmpegError as exc:
        raise AudioDecodeError(f"{path.name} is not a readable audio or video file") from exc
    if gathered.rate == 0:
        raise AudioDecodeError(f"{path.name} contains no audio")
    return gathered.result()


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
    (413 past `max_seconds`), and again while it decodes (a header can lie: decoding stops at the limit); 422
    naming the upload (not the temporary file) when it is not audio."""
    declared = declared_duration_s(path)
    if declared is not None and declared > max_seconds:
        raise TooLarge(f"'{name}' is {declared:.0f} s long; the limit is {max_seconds:g} s ({setting})")
    try:
        decoded = decode_audio(path, sample_rate=rate, max_seconds=max_seconds)
    except AudioDecodeError as exc:
        raise Unprocessable(f"'{name}' cannot be used as {use}: {str(exc).replace(path.name, name)}") from exc
    if decoded.cut:
        raise TooLarge(f"'{name}' is longer than {max_seconds:g} s ({setting})")
    return decoded.samples


def declared_duration_s(path: Path) -> float | None:
    """The length a container's header declares, without decoding (None when it declares none)."""
    import av

    try:
        with av.open(str(path)) as container:
            return None if container.duration is None else container.duration / av.time_base
    except av.FFmpegError:
        return None  # the decoder will say what is wrong
