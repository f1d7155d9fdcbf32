"""The mouth track: what the face does on each video frame, computed from the speech.

Jaw opening, lip width and rounding come from the phoneme timeline when the TTS engine gives one (visemes blended
by dominance-weighted smoothing, so the mouth anticipates and relaxes as people's do), the opening scaled by
loudness (measured on espeak speech: correlation with the envelope 0.44-0.61 without, 0.72-0.83 with);
without a timeline they come from the audio itself (loudness and spectral centroid). Blinks and a small head
motion tied to the speech rhythm ride along. Seeded: the same input renders the same track.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

from gpu_service.engines.base import PhonemeEvent
from gpu_service.engines.visemes import visemes_for

GRID_HZ = 200  # internal resolution of the curves (5 ms)
COARTICULATION_S = 0.035  # Gaussian sigma: how far ahead the mouth prepares and how long it lingers
LOUDNESS_FLOOR_DB = 45.0  # envelope range below the loud speech level mapped to 0..1


@dataclass(frozen=True)
class MouthTrack:
    fps: int
    jaw_open: np.ndarray  # 0 closed .. 1 wide open
    lip_width: np.ndarray  # -1 puckered .. 1 spread
    lip_round: np.ndarray  # 0 .. 1
    blink: np.ndarray  # 0 open .. 1 closed
    yaw: np.ndarray  # degrees; head motion
    pitch: np.ndarray
    roll: np.ndarray

    @property
    def frames(self) -> int:
        return len(self.jaw_open)


def frame_count(duration_s: float, fps: int) -> int:
    return max(1, round(duration_s * fps))


def build_track(
    samples: np.ndarray, sample_rate: int, phonemes: Sequence[PhonemeEvent] | None, fps: int, seed: int = 0
) -> MouthTrack:
    duration = len(samples) / sample_rate
    grid_len = int(np.ceil(duration * GRID_HZ)) + 1
    loudness = loudness_envelope(samples, sample_rate, grid_len)
    if phonemes:
        opening, width, rounding = _from_phonemes(phonemes, grid_len)
        # Loudness sets how far the jaw opens, the viseme how much of that this sound allows (0 for /p b m/).
        # The square root keeps vowels' differences without letting a quiet /a/ out-open a loud /i/.
        opening = np.sqrt(np.clip(opening, 0, None)) * loudness
    else:
        opening, width, rounding = _from_audio(samples, sample_rate, loudness)
    frames = frame_count(duration, fps)
    rng = np.random.default_rng(seed)
    yaw, pitch, roll = _head_motion(loudness, frames, fps, rng)
    return MouthTrack(
        fps=fps,
        jaw_open=np.clip(_to_frames(opening, frames, fps), 0, 1),
        lip_width=np.clip(_to_frames(width, frames, fps), -1, 1),
        lip_round=np.clip(_to_frames(rounding, frames, fps), 0, 1),
        blink=blink_curve(frames, fps, rng),
        yaw=yaw,
        pitch=pitch,
        roll=roll,
    )


def loudness_envelope(samples: np.ndarray, sample_rate: int, grid_len: int) -> np.ndarray:
    """0..1 per grid step: RMS in 20 ms windows, in dB, relative to the loud parts of the speech."""
    hop = sample_rate / GRID_HZ
    window = int(0.02 * sample_rate)
    padded = np.pad(samples.astype(np.float64), (window // 2, window))
    power = np.convolve(padded**2, np.ones(window) / window, mode="valid")
    centers = np.minimum((np.arange(grid_len) * hop).astype(int), len(power) - 1)
    level = 10 * np.log10(power[centers] + 1e-10)
    loud = np.percentile(level, 95) if level.size else 0.0
    return np.asarray(np.clip((level - (loud - LOUDNESS_FLOOR_DB)) / LOUDNESS_FLOOR_DB, 0, 1))


def _from_phonemes(phonemes: Sequence[PhonemeEvent], grid_len: int) -> tuple[np.ndarray, ...]:
    targets = np.zeros((3, grid_len))
    weights = np.full(grid_len, 1e-3)
    starts = [max(0, int(event.t * GRID_HZ)) for event in phonemes] + [grid_len]
    for event, start, end in zip(phonemes, starts, starts[1:], strict=False):
        shapes = visemes_for(event.phoneme)
        bounds = np.linspace(start, max(end, start + 1), len(shapes) + 1).astype(int)
        for shape, low, high in zip(shapes, bounds, bounds[1:], strict=False):
            targets[:, low:high] = np.array([[shape.open], [shape.width], [shape.round]]) * shape.dominance
            weights[low:high] = shape.dominance
    sigma = COARTICULATION_S * GRID_HZ
    smoothed_weights = gaussian_filter1d(weights, sigma, mode="nearest")
    # Dominance-weighted blend (after Cohen & Massaro): strong targets pull their neighbours toward them.
    return tuple(gaussian_filter1d(row, sigma, mode="nearest") / smoothed_weights for row in targets)


def _from_audio(samples: np.ndarray, sample_rate: int, loudness: np.ndarray) -> tuple[np.ndarray, ...]:
    """No timeline: opening follows loudness; a bright spectrum spreads the lips, a dark one rounds them."""
    hop = int(sample_rate / GRID_HZ)
    size = 512
    padded = np.pad(samples.astype(np.float64), (size // 2, size))
    starts = np.minimum(np.arange(len(loudness)) * hop, len(padded) - size)
    frames = padded[starts[:, None] + np.arange(size)] * np.hanning(size)
    spectrum = np.abs(np.fft.rfft(frames, axis=1))
    freqs = np.fft.rfftfreq(size, 1 / sample_rate)
    centroid = (spectrum * freqs).sum(axis=1) / (spectrum.sum(axis=1) + 1e-9)
    brightness = np.clip((np.log2(np.maximum(centroid, 100)) - np.log2(500)) / np.log2(4000 / 500), 0, 1)
    sigma = COARTICULATION_S * GRID_HZ
    opening = gaussian_filter1d(0.75 * loudness**1.5, sigma)  # speech is mostly loud: compress the top
    width = gaussian_filter1d((brightness - 0.5) * 1.2 * loudness, sigma)
    rounding = gaussian_filter1d(np.clip(0.5 - brightness, 0, 1) * 1.6 * loudness, sigma)
    return opening, width, rounding


def _to_frames(curve: np.ndarray, frames: int, fps: int) -> np.ndarray:
    """Average the grid curve over each frame's interval."""
    edges = np.minimum((np.arange(frames + 1) * GRID_HZ / fps).astype(int), len(curve) - 1)
    cumulative = np.concatenate([[0.0], np.cumsum(curve)])
    spans = np.maximum(edges[1:] - edges[:-1], 1)
    return np.asarray((cumulative[edges[:-1] + spans] - cumulative[edges[:-1]]) / spans)


def blink_curve(frames: int, fps: int, rng: np.random.Generator) -> np.ndarray:
    """Blinks at irregular intervals (gamma-distributed, ~3.5 s mean), the first within 2.5 s."""
    curve = np.zeros(frames)
    times = np.arange(frames) / fps
    close_s, hold_s, open_s = 0.07, max(0.04, 1 / fps), 0.12
    t = rng.uniform(0.6, 2.5)
    while t < frames / fps:
        rel = times - t
        closing = np.clip((rel + close_s + hold_s / 2) / close_s, 0, 1)
        opening = np.clip(1 - (rel - hold_s / 2) / open_s, 0, 1)
        curve = np.maximum(curve, np.minimum(closing, opening))
        t += max(1.2, rng.gamma(4.0, 3.5 / 4.0))
    return curve


def _head_motion(loudness: np.ndarray, frames: int, fps: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Slow drift (a few incommensurate sines) plus a small nod that follows the speech's loudness."""
    times = np.arange(frames) / fps
    speech = _to_frames(gaussian_filter1d(loudness, 0.15 * GRID_HZ), frames, fps)
    curves = []
    for amplitude, rhythm in ((0.9, 0.0), (0.5, 1.0), (0.25, 0.0)):  # yaw, pitch, roll in degrees
        drift = sum(np.sin(2 * np.pi * rng.uniform(0.05, 0.35) * times + rng.uniform(0, 2 * np.pi)) for _ in range(3))
        curves.append(amplitude * np.asarray(drift) / 3 + rhythm * (speech - speech.mean()))
    return tuple(curves)
