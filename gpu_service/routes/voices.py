from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse

from common.errors import documented
from contracts.gpu_service import VoicesResponse
from gpu_service.dependencies import Services, get_services

router = APIRouter(prefix="/api/v1")


@router.get("/voices", response_model=VoicesResponse)
def list_voices(services: Annotated[Services, Depends(get_services)]) -> VoicesResponse:
    return VoicesResponse(voices=services.voices.list())


@router.get(
    "/voices/{voice_id}/file",
    response_class=FileResponse,
    responses={200: {"content": {"audio/wav": {}}}, **documented(404)},
)
def voice_file(voice_id: str, services: Annotated[Services, Depends(get_services)]) -> FileResponse:
    """A bundled voice's reference recording, as it is (for previews)."""
    return FileResponse(services.voices.bundled_file(voice_id), media_type="audio/wav")
