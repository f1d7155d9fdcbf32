from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from common.errors import ServiceError
from common.http.auth import has_valid_key
from contracts.gpu_service import DiskUsage, PublicHealth
from contracts.runtime import GpuServiceHealth, HealthResponse
from runtime import __version__
from runtime.dependencies import Services, get_services
from runtime.gpu_client import GpuUnreachable

router = APIRouter()


@router.get("/health", response_model=HealthResponse | PublicHealth)
async def health(
    request: Request, services: Annotated[Services, Depends(get_services)]
) -> HealthResponse | PublicHealth:
    """Status, engines, storage and jobs; without an API key (when keys are set), only the status."""
    settings = services.settings
    gpu, problems = await _gpu_service(services)
    if (storage := services.storage.problem()) is not None:
        problems.append(storage)
    problems += services.runner.problems(stuck_after_s=2 * settings.gpu_timeout_s)
    status = "degraded" if problems else "ok"  # degraded: the fallback (if on) serves, slowly
    if settings.api_keys and not has_valid_key(request, settings.api_keys):
        return PublicHealth(status=status, service="runtime")
    return HealthResponse(
        status=status,
        problems=problems,
        disk=DiskUsage.model_validate(services.disk.get(), from_attributes=True),
        auth=bool(settings.api_keys),
        version=__version__,
        mode=settings.mode,
        fallback="local" if settings.fallback_enabled else "off",
        shared_volume=settings.gpu_output_local_root is not None,
        gpu_service=gpu,
        queued_jobs=services.jobs.count("queued"),
    )


async def _gpu_service(services: Services) -> tuple[GpuServiceHealth, list[str]]:
    """What the gpu_service says of itself, and what is wrong with it."""
    url = services.settings.gpu_service_url
    if services.settings.gpu_on_demand:  # asking would start it
        return GpuServiceHealth(url=url, reachable=None, on_demand=True), []
    try:
        remote = await services.gateway.remote.client.health()
    except (GpuUnreachable, ServiceError) as exc:
        return GpuServiceHealth(url=url, reachable=False, error=str(exc)), [
            "gpu_service not reachable (RUNTIME_GPU_SERVICE_URL)"
        ]
    if isinstance(remote, PublicHealth):
        return GpuServiceHealth(url=url, reachable=True), [
            "the gpu_service withholds its details: RUNTIME_GPU_SHARED_SECRET must equal its GPU_SHARED_SECRET"
        ]
    return GpuServiceHealth(url=url, reachable=True, device=remote.device, engines=remote.engines), []
