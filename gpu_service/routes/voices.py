from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from contracts.gpu_service import VoicesResponse
from gpu_service.dependencies import Services, get_services

router = APIRouter(prefix="/api/v1")


@router.get("/voices", response_model=VoicesResponse)
def list_voices(services: Annotated[Services, Depends(get_services)]) -> VoicesResponse:
    return VoicesResponse(voices=services.voices.list())
