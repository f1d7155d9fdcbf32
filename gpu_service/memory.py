"""Memory figures for /health and /metrics: the process's resident size and, once torch runs on a GPU, the device's;
each now and at its peak.

Read when scraped; nothing here imports torch (an idle embedded service never loads it).
"""

from __future__ import annotations

import os
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


def resident_bytes() -> float:
    """Resident memory now (Linux: /proc; elsewhere the peak, the nearest figure the standard library has)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return float(int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE"))
    except OSError:
        return resident_peak_bytes()


def device_bytes(device: str) -> float | None:
    """Memory torch holds on the GPU now; None on the CPU or before torch ran."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    if device == "cuda" and torch.cuda.is_available():
        return float(torch.cuda.memory_allocated())
    if device == "mps" and torch.backends.mps.is_available():
        return float(torch.mps.driver_allocated_memory())
    return None
