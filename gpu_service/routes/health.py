from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from contracts.gpu_service import HealthResponse
from gpu_service import __version__
from gpu_service.dependencies import Services, get_services

router = APIRouter()


@router.get("/health", response_model=HealthResponse)
def health(services: Annotated[Services, Depends(get_services)]) -> HealthResponse:
    engines = services.engines.statuses()
    problems = [
        f"default {engine.kind} engine '{engine.name}' is unavailable: {engine.reason}"
        for engine in engines
        if engine.default and engine.state == "unavailable"
    ]
    if (storage := services.storage.problem()) is not None:
        problems.append(storage)
    return HealthResponse(
        status="degraded" if problems else "ok",
        problems=problems,
        disk=services.disk.get(),
        version=__version__,
        device=services.device.name,
        device_reason=services.device.reason,
        output_root=str(services.settings.output_root),
        engines=engines,
    )
