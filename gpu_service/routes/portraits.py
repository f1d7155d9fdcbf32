from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from gpu_service.dependencies import Services, get_services
from gpu_service.schemas import PortraitsResponse

router = APIRouter(prefix="/api/v1")


@router.get("/portraits", response_model=PortraitsResponse)
def list_portraits(services: Annotated[Services, Depends(get_services)]) -> PortraitsResponse:
    return PortraitsResponse(portraits=services.portraits.list())
