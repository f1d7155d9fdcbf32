"""Latency over repeats: p50 and p95 of each stage and of the real-time factor."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel


class Spread(BaseModel):
    p50: float
    p95: float
    count: int


def spread(values: Sequence[float]) -> Spread:
    """Median and 95th percentile (linear interpolation between samples, as numpy does by default)."""
    if not values:
        raise ValueError("no values")
    data = np.asarray(values, dtype=float)
    return Spread(p50=float(np.percentile(data, 50)), p95=float(np.percentile(data, 95)), count=len(data))
