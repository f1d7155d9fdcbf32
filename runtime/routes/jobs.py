from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from common.errors import documented
from contracts.runtime import GenerateRequest, Job, JobList
from runtime.dependencies import Owner, Services, get_services, rate_limited
from runtime.gpu_requests import check_text
from runtime.routes.urls import job_with_urls

router = APIRouter(prefix="/api/v1")


@router.post(
    "/jobs",
    response_model=Job,
    status_code=202,
    responses=documented(400, 413, 422, 429),
    dependencies=[Depends(rate_limited)],
)
async def submit(body: GenerateRequest, owner: Owner, services: Annotated[Services, Depends(get_services)]) -> Job:
    """Queue a generate request; poll GET /api/v1/jobs/{id} for its stage and result."""
    check_text(body.text, services.settings)
    return services.runner.submit(body, owner)


@router.get("/jobs/{job_id}", response_model=Job, responses=documented(404))
async def status(
    job_id: str, request: Request, owner: Owner, services: Annotated[Services, Depends(get_services)]
) -> Job:
    """A job of this key's (other keys' jobs do not exist for it)."""
    return job_with_urls(services.jobs.get(job_id, owner), request)


@router.get("/jobs", response_model=JobList)
async def recent(
    request: Request,
    owner: Owner,
    services: Annotated[Services, Depends(get_services)],
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> JobList:
    """This key's most recent jobs."""
    return JobList(jobs=[job_with_urls(job, request) for job in services.jobs.recent(limit, owner)])
