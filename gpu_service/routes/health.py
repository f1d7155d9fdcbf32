from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from common.auth import has_valid_key
from contracts.gpu_service import HealthResponse, PublicHealth
from gpu_service import __version__
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
    secret = services.settings.shared_secret
    if secret and not has_valid_key(request, [secret]):
        return PublicHealth(status=status, service="gpu_service")
    return HealthResponse(
        status=status,
        problems=problems,
        disk=services.disk.get(),
        version=__version__,
        device=services.device.name,
        device_reason=services.device.reason,
        output_root=str(services.settings.output_root),
        engines=engines,
    )
