"""Memory figures for /metrics: the process's peak resident size and, once torch runs on a GPU, the device's peak.

Read when scraped; nothing here imports torch (an idle embedded service never loads it).
"""

from __future__ import annotations

import resource
import sys


def resident_peak_bytes() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return float(peak if sys.platform == "darwin" else peak * 1024)  # bytes on macOS, KiB on Linux


def device_peak_bytes(device: str) -> float:
    """Peak memory torch allocated on the GPU (CUDA) or holds from the driver (MPS); NaN when none is in use."""
    torch = sys.modules.get("torch")
    if torch is None:
        return float("nan")
    if device == "cuda" and torch.cuda.is_available():
        return float(torch.cuda.max_memory_allocated())
    if device == "mps" and torch.backends.mps.is_available():
        return float(torch.mps.driver_allocated_memory())
    return float("nan")
