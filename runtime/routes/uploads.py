from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, UploadFile
from pydantic import BaseModel

from common.errors import documented
from contracts.gpu_service import VoiceInfo
from contracts.runtime import UploadedPortrait, UploadedVoice
from runtime.dependencies import Owner, Services, get_services

router = APIRouter(prefix="/api/v1")


class VoiceCatalog(BaseModel):
    bundled: list[VoiceInfo]
    uploaded: list[UploadedVoice]


@router.post("/voices", response_model=UploadedVoice, status_code=201, responses=documented(400, 413, 422))
async def upload_voice(
    file: Annotated[UploadFile, File(description="wav, mp3, m4a, or a video: its audio is extracted")],
    owner: Owner,
    services: Annotated[Services, Depends(get_services)],
) -> UploadedVoice:
    """A reference voice: mono, silences trimmed, loudness-normalized, up to 10 s kept. Yours alone (per key)."""
    return await services.uploads.add_voice(file, owner)


@router.get("/voices", response_model=VoiceCatalog, responses=documented(503))
async def voices(owner: Owner, services: Annotated[Services, Depends(get_services)]) -> VoiceCatalog:
    """The bundled voices (shared) and the ones this key uploaded."""
    backend = await services.gateway.backend()
    bundled = (await backend.client.voices()).voices
    return VoiceCatalog(bundled=bundled, uploaded=services.uploads.list_voices(owner))


@router.post("/portraits", response_model=UploadedPortrait, status_code=201, responses=documented(400, 413, 422, 503))
async def upload_portrait(
    file: Annotated[UploadFile, File(description="JPEG or PNG with one face")],
    owner: Owner,
    services: Annotated[Services, Depends(get_services)],
) -> UploadedPortrait:
    """A portrait in which a face is found; yours alone (per key)."""
    return await services.uploads.add_portrait(file, await services.gateway.backend(), owner)
