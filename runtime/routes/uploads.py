"""Voices and portraits: the bundled ones and this key's uploads, with previews for choosing between them."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, File, Query, UploadFile
from fastapi.responses import FileResponse, Response

from common.errors import documented
from common.media.images import thumbnail_jpeg
from contracts.runtime import (
    BundledPortrait,
    BundledVoice,
    PortraitCatalog,
    UploadedPortrait,
    UploadedVoice,
    VoiceCatalog,
)
from runtime.dependencies import Owner, Services, get_services

router = APIRouter(prefix="/api/v1")
PREVIEW_CACHING = {"Cache-Control": "private, max-age=3600"}  # ids never change content


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
    """The bundled voices (shared) and the ones this key uploaded, each with a `preview_url`."""
    backend = await services.gateway.backend()
    bundled = [BundledVoice.model_validate(info.model_dump()) for info in (await backend.client.voices()).voices]
    return VoiceCatalog(bundled=bundled, uploaded=services.uploads.list_voices(owner))


@router.get(
    "/voices/{voice_id}/preview",
    response_class=Response,
    responses={200: {"content": {"audio/wav": {}}}, **documented(404, 503)},
)
async def voice_preview(voice_id: str, owner: Owner, services: Annotated[Services, Depends(get_services)]) -> Response:
    """The voice's reference recording as WAV (a bundled one, or this key's cleaned upload)."""
    if services.uploads.is_upload_id(voice_id):
        return FileResponse(
            services.uploads.voice_file(voice_id, owner), media_type="audio/wav", headers=PREVIEW_CACHING
        )
    backend = await services.gateway.backend()
    audio, media_type = await backend.client.bundled_file("voices", voice_id)
    return Response(audio, media_type=media_type, headers=PREVIEW_CACHING)


@router.post("/portraits", response_model=UploadedPortrait, status_code=201, responses=documented(400, 413, 422, 503))
async def upload_portrait(
    file: Annotated[UploadFile, File(description="JPEG or PNG with one face")],
    owner: Owner,
    services: Annotated[Services, Depends(get_services)],
) -> UploadedPortrait:
    """A portrait in which a face is found; yours alone (per key)."""
    return await services.uploads.add_portrait(file, await services.gateway.backend(), owner)


@router.get("/portraits", response_model=PortraitCatalog, responses=documented(503))
async def portraits(owner: Owner, services: Annotated[Services, Depends(get_services)]) -> PortraitCatalog:
    """The bundled portraits (shared) and the ones this key uploaded, each with a `preview_url`."""
    backend = await services.gateway.backend()
    listed = (await backend.client.portraits()).portraits
    bundled = [BundledPortrait.model_validate(info.model_dump()) for info in listed]
    return PortraitCatalog(bundled=bundled, uploaded=services.uploads.list_portraits(owner))


@router.get(
    "/portraits/{portrait_id}/preview",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}, **documented(404, 503)},
)
async def portrait_preview(
    portrait_id: str,
    owner: Owner,
    services: Annotated[Services, Depends(get_services)],
    side: Annotated[int, Query(ge=32, le=1024, description="Longest side wanted; a photo is never enlarged.")] = 256,
) -> Response:
    """A JPEG of the portrait, at most `side` pixels on a side (the page asks for 512 for its player's poster)."""
    if services.uploads.is_upload_id(portrait_id):
        image = await asyncio.to_thread(services.uploads.portrait_file(portrait_id, owner).read_bytes)
    else:
        backend = await services.gateway.backend()
        image, _ = await backend.client.bundled_file("portraits", portrait_id)
    thumbnail = await asyncio.to_thread(thumbnail_jpeg, image, side)
    return Response(thumbnail, media_type="image/jpeg", headers=PREVIEW_CACHING)
