"""Pitch: F0 median and range by Praat's autocorrelation tracker (parselmouth), compared between two voices."""

from __future__ import annotations

import numpy as np
import parselmouth
from pydantic import BaseModel

FLOOR_HZ = 60.0
CEILING_HZ = 500.0


class PitchStats(BaseModel):
    median_hz: float
    range_semitones: float  # 5th to 95th percentile of voiced F0
    voiced_fraction: float


def pitch_stats(samples: np.ndarray, sample_rate: int) -> PitchStats:
    sound = parselmouth.Sound(samples.astype(np.float64), sampling_frequency=sample_rate)
    f0 = sound.to_pitch(pitch_floor=FLOOR_HZ, pitch_ceiling=CEILING_HZ).selected_array["frequency"]
    voiced = f0[f0 > 0]
    if len(voiced) < 3:
        return PitchStats(median_hz=0.0, range_semitones=0.0, voiced_fraction=len(voiced) / max(len(f0), 1))
    low, high = np.percentile(voiced, [5, 95])
    return PitchStats(
        median_hz=float(np.median(voiced)),
        range_semitones=float(12 * np.log2(high / low)),
        voiced_fraction=float(len(voiced) / len(f0)),
    )


def semitones_between(a_hz: float, b_hz: float) -> float | None:
    """Absolute distance between two pitches in semitones (None when either is unvoiced)."""
    if a_hz <= 0 or b_hz <= 0:
        return None
    return float(abs(12 * np.log2(a_hz / b_hz)))
