from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from gpu_service.dependencies import Services, get_services
from gpu_service.schemas import VoicesResponse

router = APIRouter(prefix="/api/v1")


@router.get("/voices", response_model=VoicesResponse)
def list_voices(services: Annotated[Services, Depends(get_services)]) -> VoicesResponse:
    return VoicesResponse(voices=services.voices.list())
