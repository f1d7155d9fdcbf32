"""POST /api/v1/speak (text) and /api/v1/reply (a conversation): a streamed talking-head video; GET /api/v1/speak/{id}:
how such a stream went."""

from __future__ import annotations

import re
import time
import uuid
import zlib
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Depends

from common.errors import NotFound, documented
from common.streaming import ClosingStreamingResponse, prepend
from contracts.gpu_service import (
    SPEAK_ID_HEADER,
    VIDEO_PATH_HEADER,
    ReplyInfo,
    ReplyRequest,
    SpeakRequest,
    SpeakResult,
    VideoOptions,
)
from gpu_service.dependencies import Services, get_services
from gpu_service.engines.base import SpeechSegment
from gpu_service.replying import ReplyLimits, ReplyOrder, spoken_reply
from gpu_service.routes.tts import SpeechOrder, resolve_speech
from gpu_service.speaking import SpeakPlan, result_path_for, speak_fragments

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
    speech = order.engine.stream(request.text, request.language, order.voice, match_voice=order.match_voice)
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
    GET /api/v1/speak/{id} (`reply`), growing while the stream runs. A model that fails before its first sentence
    answers 502/503 with its reason; one that fails later ends the stream early and `reply.finish` says "error".
    """
    started = time.perf_counter()
    order = resolve_speech(request, services, None)
    reply_order = ReplyOrder(
        services.engines.llm.get(request.llm_engine),
        ReplyLimits.of(services.settings.llm, request.max_tokens),
        order.engine,
        request.language,
        order.voice,
        order.match_voice,
    )
    speech, info = spoken_reply(reply_order, request.turns(), started)
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
    """Speech segments to the streamed video answer, with its headers; nothing is sent before the first fragment."""
    avatar = services.engines.avatar.get(request.avatar_engine)
    portrait = services.portraits.resolve(request.portrait, request.face)
    seed = request.seed if request.seed is not None else zlib.crc32(seed_text.encode())  # blinks vary by text
    session = avatar.open_session(portrait, fps=request.fps, size=request.size, seed=seed)
    speak_id = uuid.uuid4().hex
    video_path = services.settings.output_root / "video" / f"{speak_id}.mp4"
    plan = SpeakPlan(
        speech=speech,
        sample_rate=order.engine.sample_rate,
        session=session,
        video_path=video_path,
        result=SpeakResult(
            id=speak_id,
            status="running",
            fps=request.fps,
            size=request.size,
            language=request.language,
            tts_engine=order.engine.name,
            avatar_engine=avatar.name,
            reply=reply_info,
            notices=services.faces.analyze(portrait, request.size).notices(),
        ),
    )
    fragments = speak_fragments(plan, started)
    first = next(fragments)  # errors before any byte is sent become ordinary error answers
    services.metrics.stages.labels("speak_first_bytes").observe(time.perf_counter() - started)
    headers = {
        SPEAK_ID_HEADER: speak_id,
        VIDEO_PATH_HEADER: str(video_path),
        "X-TTS-Engine": order.engine.name,
        "X-Avatar-Engine": avatar.name,
        "Cache-Control": "no-store",
    }
    if reply_info is not None:
        headers["X-LLM-Engine"] = reply_info.llm_engine
    return ClosingStreamingResponse(prepend(first, fragments), media_type="video/mp4", headers=headers)


@router.get("/speak/{speak_id}", response_model=SpeakResult, responses=documented(404))
def speak_result(speak_id: str, services: Annotated[Services, Depends(get_services)]) -> SpeakResult:
    """How a stream went: running, done (with its file, segments and timings) or failed (with the reason)."""
    if not SPEAK_ID.fullmatch(speak_id):
        raise NotFound(f"no stream '{speak_id}'")
    path = result_path_for(services.settings.output_root / "video" / f"{speak_id}.mp4")
    try:
        return SpeakResult.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        raise NotFound(f"no stream '{speak_id}' (results expire after GPU_RETENTION_HOURS)") from None
