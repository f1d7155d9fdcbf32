"""Turn a recording or a video into a clean voice reference: mono, silences trimmed, loudness-normalized, ~10 s.

Usage: python -m common.media.voice_sample INPUT OUTPUT.wav [--seconds 10] [--start 0]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pyloudnorm

from common.media.audio import AudioDecodeError, FloatArray, load_audio, write_wav

REFERENCE_RATE = 16_000
TARGET_LUFS = -23.0  # EBU R128 programme loudness
FRAME_S = 0.02
SILENCE_BELOW_PEAK_DB = 40.0  # frames this far below the loudest frame count as silence
KEPT_PAUSE_S = 0.2  # longer pauses are shortened to this, so the reference is mostly speech
SPEECH_FLOOR_DBFS = -55.0  # quieter frames are never speech, however quiet the loudest one is (silence, hiss)


def speech_mask(samples: FloatArray, rate: int) -> np.ndarray:
    """One boolean per FRAME_S frame: True where the frame is within SILENCE_BELOW_PEAK_DB of the loudest one and
    above SPEECH_FLOOR_DBFS (a silent file's loudest frame is silence too)."""
    hop = int(FRAME_S * rate)
    frames = samples[: len(samples) // hop * hop].reshape(-1, hop)
    if not len(frames):
        return np.zeros(0, bool)
    level = 10 * np.log10(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-12)
    return np.asarray(level > max(level.max() - SILENCE_BELOW_PEAK_DB, SPEECH_FLOOR_DBFS))


def squeeze_silences(samples: FloatArray, rate: int) -> FloatArray:
    """Drop leading and trailing silence and shorten inner pauses to KEPT_PAUSE_S."""
    hop = int(FRAME_S * rate)
    mask = speech_mask(samples, rate)
    if not mask.any():
        return samples[:0]
    keep_pause = int(KEPT_PAUSE_S / FRAME_S)
    kept: list[FloatArray] = []
    silent_run = 0
    first, last = int(np.argmax(mask)), len(mask) - int(np.argmax(mask[::-1]))
    for index in range(first, last):
        silent_run = 0 if mask[index] else silent_run + 1
        if silent_run <= keep_pause:
            kept.append(samples[index * hop : (index + 1) * hop])
    return np.concatenate(kept)


def normalize_loudness(samples: FloatArray, rate: int, target_lufs: float = TARGET_LUFS) -> FloatArray:
    meter = pyloudnorm.Meter(rate)
    loudness = meter.integrated_loudness(samples.astype(np.float64))
    if not np.isfinite(loudness):
        return samples
    gain = 10 ** ((target_lufs - loudness) / 20)
    peak = float(np.max(np.abs(samples))) * gain
    if peak > 0.99:  # never clip: settle for a quieter reference
        gain *= 0.99 / peak
    return np.asarray(samples * gain, dtype=np.float32)


def make_reference(samples: FloatArray, rate: int, seconds: float = 10.0) -> FloatArray:
    speech = squeeze_silences(samples, rate)
    if speech.size < rate:  # under a second of speech cannot characterise a voice
        raise AudioDecodeError(
            "less than one second of speech found (silence or near-silence): record a few seconds of someone talking"
        )
    cut = speech[: int(seconds * rate)]
    fade = int(0.01 * rate)  # avoid a click where the cut falls mid-sound
    cut[-fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    return normalize_loudness(cut, rate)


def extract_reference(source: Path, destination: Path, seconds: float = 10.0, start: float = 0.0) -> float:
    """Write a clean reference from `source` (any audio or video file); return its duration in seconds."""
    samples, rate = load_audio(source, sample_rate=REFERENCE_RATE)
    reference = make_reference(samples[int(start * rate) :], rate, seconds)
    write_wav(destination, reference, rate)
    return len(reference) / rate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("source", type=Path, help="recording or video to take the voice from")
    parser.add_argument("destination", type=Path, help="WAV file to write")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the reference (default 10)")
    parser.add_argument("--start", type=float, default=0.0, help="skip this many seconds of the source first")
    args = parser.parse_args(argv)
    try:
        duration = extract_reference(args.source, args.destination, args.seconds, args.start)
    except (AudioDecodeError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {args.destination} ({duration:.1f} s, mono {REFERENCE_RATE} Hz, {TARGET_LUFS} LUFS)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
