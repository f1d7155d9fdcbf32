from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from common.errors import documented
from common.http.streaming import ClosingStreamingResponse
from contracts.runtime import (
    EVENTS_URL_HEADER,
    FALLBACK_HEADER,
    VIDEO_ID_HEADER,
    VIDEO_URL_HEADER,
    GenerateRequest,
    GenerateResult,
)
from runtime.dependencies import Owner, Services, get_services, rate_limited
from runtime.pipelines.generate import generate as generate_video
from runtime.pipelines.generate import no_stage, open_followed_stream
from runtime.routes.urls import absolute
from runtime.videos import video_events_url, video_url

router = APIRouter(prefix="/api/v1")

STREAM_DOC = {
    "content": {"video/mp4": {}},
    "description": "With `stream: true`: a fragmented MP4 (H.264 + AAC), sent as it is made. `X-Video-Id` and "
    "`X-Video-Url` name the stored video before the first byte; `X-Events-Url` is where its sentences arrive as "
    "server-sent events as they are said (for captions while it plays). A stream that fails midway ends without HTTP's "
    "final chunk: clients see an incomplete body (curl exits with 18, a browser's fetch reader rejects), and no "
    "video is stored under that id.",
}


@router.post(
    "/generate",
    response_model=GenerateResult,
    responses={200: STREAM_DOC, **documented(400, 404, 413, 422, 429, 502, 503)},
    dependencies=[Depends(rate_limited)],
)
async def generate(
    body: GenerateRequest, request: Request, owner: Owner, services: Annotated[Services, Depends(get_services)]
) -> GenerateResult | Response:
    """Text to a talking-head video: waiting for it, or (`stream: true`) watching it as it is made.

    For long texts without streaming, prefer POST /api/v1/jobs."""
    if not body.stream:
        return absolute(await generate_video(body, services.generating, no_stage, owner), request)
    followed = await open_followed_stream(body, services.generating, owner)
    stream = followed.stream
    headers = {
        VIDEO_ID_HEADER: stream.video_id,
        VIDEO_URL_HEADER: video_url(stream.video_id),
        EVENTS_URL_HEADER: video_events_url(stream.video_id),
        FALLBACK_HEADER: str(stream.backend.is_fallback).lower(),
        "Cache-Control": "no-store",
    }
    return ClosingStreamingResponse(followed, media_type="video/mp4", headers=headers)
