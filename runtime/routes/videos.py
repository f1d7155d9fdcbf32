from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse, StreamingResponse

from common.errors import documented
from common.http import sse
from contracts.gpu_service import SegmentTiming
from contracts.runtime import VideoEnded
from runtime.dependencies import Owner, Services, get_services
from runtime.progress import sentence_event_response
from runtime.videos import captions_url, video_url

router = APIRouter(prefix="/api/v1")
EVENTS_DOC = {
    "content": {sse.MEDIA_TYPE: {}},
    "description": "`sentence` events ({index, text, spoken, start_s, duration_s}: where it plays in the video) as "
    "each is said, then `done` (VideoEnded: the stored video and its captions, or why it failed).",
}


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


@router.get(
    "/videos/{video_id}/events",
    response_class=StreamingResponse,
    responses={200: EVENTS_DOC, **documented(404, 429)},
)
async def events(
    video_id: str, owner: Owner, services: Annotated[Services, Depends(get_services)]
) -> StreamingResponse:
    """A streamed video's sentences as they are said, then how it ended; a video already stored answers `done` at
    once (its captions are at captions.vtt)."""
    log = services.generating.running.get(video_id, owner)
    if log is None:
        services.videos.existing(video_id, owner)  # 404 unless it is this key's, stored
    running = services.generating.running
    leave = running.listen(owner)  # 429 before the stream starts

    async def followed() -> AsyncIterator[SegmentTiming | VideoEnded]:
        if log is not None:
            async for event in log.follow():
                yield event
            return
        yield VideoEnded(status="done", video_url=video_url(video_id), captions_url=captions_url(video_id))

    return sentence_event_response(followed(), lambda ended: ended, leave)
