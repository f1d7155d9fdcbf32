from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from common.errors import ServiceError
from contracts.runtime import GpuServiceHealth, HealthResponse
from runtime import __version__
from runtime.dependencies import Services, get_services
from runtime.gpu_client import GpuUnreachable

router = APIRouter()


@router.get("/health", response_model=HealthResponse)
async def health(services: Annotated[Services, Depends(get_services)]) -> HealthResponse:
    settings = services.settings
    gpu = GpuServiceHealth(url=settings.gpu_service_url, reachable=False)
    try:
        remote = await services.gateway.remote.client.health()
        gpu = GpuServiceHealth(
            url=settings.gpu_service_url, reachable=True, device=remote.device, engines=remote.engines
        )
    except (GpuUnreachable, ServiceError) as exc:
        gpu.error = str(exc)
    problems = [] if gpu.reachable else [f"gpu_service not reachable at {settings.gpu_service_url}"]
    if (storage := services.storage.problem()) is not None:
        problems.append(storage)
    problems += services.runner.problems(stuck_after_s=2 * settings.gpu_timeout_s)
    return HealthResponse(
        status="degraded" if problems else "ok",  # degraded: the fallback (if on) serves, slowly
        problems=problems,
        disk=services.disk.get(),
        auth=bool(settings.api_keys),
        version=__version__,
        mode=settings.mode,
        fallback="local" if settings.fallback_enabled else "off",
        shared_volume=settings.gpu_output_local_root is not None,
        gpu_service=gpu,
        queued_jobs=services.jobs.count("queued"),
    )
