from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from common.http.auth import has_valid_key
from contracts.gpu_service import DiskUsage, HealthResponse, MemoryFigures, PublicHealth
from gpu_service import __version__, memory
from gpu_service.dependencies import Services, get_services

router = APIRouter()


@router.get("/health", response_model=HealthResponse | PublicHealth)
def health(request: Request, services: Annotated[Services, Depends(get_services)]) -> HealthResponse | PublicHealth:
    """Status, device, engines and storage; without the shared secret (when one is set), only the status."""
    engines = services.engines.statuses()
    problems = [
        f"default {engine.kind} engine '{engine.name}' is unavailable: {engine.reason}"
        for engine in engines
        if engine.default and engine.state == "unavailable"
    ]
    if (storage := services.storage.problem()) is not None:
        problems.append(storage)
    status = "degraded" if problems else "ok"
    notes = []
    liveportrait = next((engine for engine in engines if engine.name == "liveportrait"), None)
    if liveportrait is not None and liveportrait.state != "unavailable" and services.device.name == "cpu":
        options = services.settings.liveportrait
        ten_seconds = 10 * 25  # frames, at the default fps
        notes.append(
            f"LivePortrait runs on the CPU here: ~{options.cpu_seconds_per_frame:.0f} s a frame, so 10 s of video "
            f"takes ~{ten_seconds * options.cpu_seconds_per_frame / 60:.0f} min; video that would take over "
            f"GPU_LIVEPORTRAIT__MAX_RENDER_S={options.max_render_s:.0f} s is refused. Use a GPU for LivePortrait."
        )
    secret = services.settings.shared_secret
    if secret and not has_valid_key(request, [secret]):
        return PublicHealth(status=status, service="gpu_service")
    return HealthResponse(
        status=status,
        problems=problems,
        notes=notes,
        disk=DiskUsage.model_validate(services.disk.get(), from_attributes=True),
        version=__version__,
        device=services.device.name,
        device_reason=services.device.reason,
        output_root=str(services.settings.output_root),
        engines=engines,
        memory=MemoryFigures(
            resident_bytes=memory.resident_bytes(), device_bytes=memory.device_bytes(services.device.name)
        ),
    )
