from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from common.errors import documented
from runtime.dependencies import Services, get_services, rate_limited
from runtime.pipelines.phase1_script import run_script
from runtime.routes.urls import absolute
from runtime.schemas import GenerateRequest, GenerateResult

router = APIRouter(prefix="/api/v1")


async def _no_stage(_: str) -> None:
    return None


@router.post(
    "/generate",
    response_model=GenerateResult,
    responses=documented(400, 404, 413, 422, 429, 502, 503),
    dependencies=[Depends(rate_limited)],
)
async def generate(
    body: GenerateRequest, request: Request, services: Annotated[Services, Depends(get_services)]
) -> GenerateResult:
    """Text to a talking-head video, waiting for it. For long texts prefer POST /api/v1/jobs."""
    return absolute(await run_script(body, services.phase1, _no_stage), request)
