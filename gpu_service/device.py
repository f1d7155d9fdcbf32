"""Pick the compute device: CUDA, then Apple's MPS, then CPU, unless a setting forces one."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DeviceChoice:
    name: str
    reason: str


def pick_device(requested: str) -> DeviceChoice:
    try:
        import torch
    except ImportError:
        if requested in ("cuda", "mps"):
            return DeviceChoice("cpu", f"{requested} requested but torch is not installed; using cpu")
        return DeviceChoice("cpu", "torch not installed (embedded engines need none)")
    available = {
        "cuda": torch.cuda.is_available(),
        "mps": bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()),
    }
    if requested in available:
        if available[requested]:
            return DeviceChoice(requested, "requested by GPU_DEVICE")
        return DeviceChoice("cpu", f"{requested} requested by GPU_DEVICE but not available; using cpu")
    if requested == "cpu":
        return DeviceChoice("cpu", "requested by GPU_DEVICE")
    for name in ("cuda", "mps"):
        if available[name]:
            return DeviceChoice(name, "picked automatically")
    return DeviceChoice("cpu", "no CUDA or MPS device found")
