"""POST /api/v1/speak (text) and /api/v1/reply (a conversation): a streamed talking-head video; GET /api/v1/speak/{id}:
how such a stream went."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.responses import StreamingResponse

from common.errors import NotFound, documented
from common.http import sse
from common.http.streaming import ClosingStreamingResponse, prepend
from contracts.gpu_service import (
    SPEAK_ID_HEADER,
    VIDEO_PATH_HEADER,
    ReplyInfo,
    ReplyRequest,
    SpeakEvent,
    SpeakRequest,
    SpeakResult,
    VideoOptions,
)
from gpu_service.dependencies import Services, get_services
from gpu_service.engines.base import SpeechSegment
from gpu_service.orders import SpeechOrder, open_avatar, resolve_speech, start_reply
from gpu_service.speaking import SpeakPlan, load_result, speak_fragments

router = APIRouter(prefix="/api/v1")
SPEAK_ID = re.compile(r"[0-9a-f]{32}")


@router.post(
    "/speak",
    response_class=ClosingStreamingResponse,
    responses={200: {"content": {"video/mp4": {}}}, **documented(400, 404, 413, 422, 503)},
)
def speak(request: SpeakRequest, services: Annotated[Services, Depends(get_services)]) -> ClosingStreamingResponse:
    """Speak `text` as a fragmented MP4 (H.264 + AAC) sent while it is made, sentence by sentence.

    The first fragment is made before the answer starts, so refusals still arrive as 4xx. Headers name the stream
    (`X-Speak-Id`) and where its complete file will be (`X-Video-Path`). A stream that fails midway ends without
    HTTP's final chunk (clients see an incomplete body) and leaves no file; GET /api/v1/speak/{id} then says why.
    """
    started = time.perf_counter()
    order = resolve_speech(request, services, request.text)
    # A clip is kept: its first clause ends where a speaker could pause, never mid-phrase after a few words.
    speech = order.speak(request.text, first_clause=request.first_clause, word_limit=False)
    return _video_stream(request, order, speech, request.text, None, services, started)


@router.post(
    "/reply",
    response_class=ClosingStreamingResponse,
    responses={200: {"content": {"video/mp4": {}}}, **documented(400, 404, 413, 422, 502, 503)},
)
def reply(request: ReplyRequest, services: Annotated[Services, Depends(get_services)]) -> ClosingStreamingResponse:
    """The language model's reply to `text` (after `system` and `history`), spoken and shown as it is written: the
    same stream as /speak.

    Sentence 1 is spoken while the model writes sentence 2. The reply's text, its finish reason and timings are in
    GET /api/v1/speak/{id} (`reply`) and its events, growing while the stream runs. A model that fails before its
    first sentence answers 502/503 with its reason; one that fails later ends the stream early and `reply.finish`
    says "error".
    """
    started = time.perf_counter()
    order = resolve_speech(request, services, None)
    try:
        speech, info = start_reply(request, order, services, started)
    except BaseException:
        order.release()
        raise
    return _video_stream(request, order, speech, request.text, info, services, started)


def _video_stream(
    request: VideoOptions,
    order: SpeechOrder,
    speech: Iterator[SpeechSegment],
    seed_text: str,
    reply_info: ReplyInfo | None,
    services: Services,
    started: float,
) -> ClosingStreamingResponse:
    """Speech segments to the streamed video answer, with its headers; nothing is sent before the first fragment.
    The engines held by `order` and the avatar's are let go when the stream ends, however it ends."""
    try:
        avatar = open_avatar(request, services, seed_text)
    except BaseException:
        order.release()
        raise

    def release() -> None:
        order.release()
        avatar.release()

    speak_id = uuid.uuid4().hex
    video_path = services.settings.output_root / "video" / f"{speak_id}.mp4"
    result = SpeakResult(
        id=speak_id,
        status="running",
        fps=request.fps,
        size=request.size,
        language=request.language,
        tts_engine=order.engine.name,
        avatar_engine=avatar.engine_name,
        reply=reply_info,
        notices=services.faces.analyze(avatar.portrait, request.size).notices(),
    )
    plan = SpeakPlan(
        speech=speech,
        sample_rate=order.engine.sample_rate,
        session=avatar.session,
        video_path=video_path,
        result=result,
        progress=services.speaking.open(result),
        release=release,
    )
    fragments = speak_fragments(plan, started)
    try:
        first = next(fragments)  # errors before any byte is sent become ordinary error answers
    except BaseException as exc:
        release()
        if not plan.progress.log.closed:  # failed before the stream's own bookkeeping began: ended here
            result.status, result.error = "failed", f"{type(exc).__name__}: {exc}"
            plan.progress.end(result)
        raise
    services.metrics.stages.labels("speak_first_bytes").observe(time.perf_counter() - started)
    headers = {
        SPEAK_ID_HEADER: speak_id,
        VIDEO_PATH_HEADER: str(video_path),
        "X-TTS-Engine": order.engine.name,
        "X-Avatar-Engine": avatar.engine_name,
        "Cache-Control": "no-store",
    }
    if reply_info is not None:
        headers["X-LLM-Engine"] = reply_info.llm_engine
    return ClosingStreamingResponse(prepend(first, fragments), media_type="video/mp4", headers=headers)


@router.get("/speak/{speak_id}", response_model=SpeakResult, responses=documented(404))
def speak_result(speak_id: str, services: Annotated[Services, Depends(get_services)]) -> SpeakResult:
    """How a stream went: running (with the segments said so far), done (with its file, segments and timings) or
    failed (with the reason)."""
    progress = services.speaking.get(_checked(speak_id))
    if progress is not None:
        return progress.snapshot()
    result = load_result(services.settings.output_root / "video" / f"{speak_id}.mp4")
    if result is None:
        raise NotFound(f"no stream '{speak_id}' (results expire after GPU_RETENTION_HOURS)")
    return result


@router.get(
    "/speak/{speak_id}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {sse.MEDIA_TYPE: {}}}, **documented(404)},
)
async def speak_events(speak_id: str, services: Annotated[Services, Depends(get_services)]) -> StreamingResponse:
    """The stream's events as they happen (server-sent events, each a SpeakEvent as JSON): every segment said so
    far, then each new one, then `end` with the record. A stream that ended long ago answers with its `end` alone."""
    progress = services.speaking.get(_checked(speak_id))
    if progress is None:
        result = load_result(services.settings.output_root / "video" / f"{speak_id}.mp4")
        if result is None:
            raise NotFound(f"no stream '{speak_id}' (results expire after GPU_RETENTION_HOURS)")
        ended = SpeakEvent(type="end", index=0, result=result)
        return StreamingResponse(iter([sse.event(ended)]), media_type=sse.MEDIA_TYPE, headers=sse.HEADERS)

    async def events() -> AsyncIterator[bytes]:
        async for event in progress.log.follow():
            yield sse.event(event)

    return StreamingResponse(events(), media_type=sse.MEDIA_TYPE, headers=sse.HEADERS)


def _checked(speak_id: str) -> str:
    if not SPEAK_ID.fullmatch(speak_id):
        raise NotFound(f"no stream '{speak_id}'")
    return speak_id
