from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse

from common.errors import documented
from runtime.dependencies import Owner, Services, get_services

router = APIRouter(prefix="/api/v1")


@router.get("/videos/{video_id}", response_class=FileResponse, responses=documented(404))
async def video(video_id: str, owner: Owner, services: Annotated[Services, Depends(get_services)]) -> FileResponse:
    """The MP4; honours Range requests, so players can seek. Only the key that made it sees it."""
    path = services.videos.existing(video_id, owner)
    return FileResponse(path, media_type="video/mp4", filename=f"{video_id}.mp4")


@router.get(
    "/videos/{video_id}/captions.vtt",
    response_class=FileResponse,
    responses={200: {"content": {"text/vtt": {}}}, **documented(404)},
)
async def captions(video_id: str, owner: Owner, services: Annotated[Services, Depends(get_services)]) -> FileResponse:
    """The video's captions (WebVTT): one cue per sentence, as written, at the times it is said."""
    path = services.videos.existing_captions(video_id, owner)
    return FileResponse(path, media_type="text/vtt; charset=utf-8", filename=f"{video_id}.vtt")
