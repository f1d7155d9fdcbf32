"""Lip sync: how well mouth opening follows the audio's loudness, and at which offset.

The loudness here is the judge's own definition (RMS over a 40 ms window per frame, in dB, 40 dB range),
independent of how the renderer drives the mouth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

WINDOW_S = 0.04
RANGE_DB = 40.0


@dataclass(frozen=True)
class LipSync:
    correlation: float  # best Pearson correlation over the lags tried
    offset_ms: float  # lag of the best correlation; > 0: the mouth moves after the sound
    by_lag_ms: dict[float, float]


def loudness_per_frame(samples: np.ndarray, sample_rate: int, fps: float, frames: int) -> np.ndarray:
    half = int(WINDOW_S * sample_rate / 2)
    centers = ((np.arange(frames) + 0.5) / fps * sample_rate).astype(int)
    padded = np.pad(samples.astype(np.float64), (half, half))
    windows = padded[(centers[:, None] + np.arange(2 * half)).clip(0, len(padded) - 1)]
    level = 10 * np.log10(np.mean(windows**2, axis=1) + 1e-12)
    return np.asarray(np.clip(level - (level.max() - RANGE_DB), 0, None))


def lip_sync(mouth_open: np.ndarray, loudness: np.ndarray, fps: float, max_lag_s: float = 0.4) -> LipSync:
    mouth = np.nan_to_num(mouth_open, nan=float(np.nanmedian(mouth_open)) if np.isfinite(mouth_open).any() else 0)
    max_lag = round(max_lag_s * fps)
    by_lag: dict[float, float] = {}
    for lag in range(-max_lag, max_lag + 1):
        if lag >= 0:
            a, b = mouth[lag:], loudness[: len(loudness) - lag]
        else:
            a, b = mouth[:lag], loudness[-lag:]
        valid = len(a) > 2 and np.std(a) > 1e-9 and np.std(b) > 1e-9
        by_lag[round(lag * 1000 / fps, 1)] = float(np.corrcoef(a, b)[0, 1]) if valid else 0.0
    best = max(by_lag, key=lambda lag: by_lag[lag])
    return LipSync(correlation=by_lag[best], offset_ms=best, by_lag_ms=by_lag)
