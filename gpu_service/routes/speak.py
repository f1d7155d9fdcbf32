"""POST /api/v1/speak: text to a streamed talking-head video; GET /api/v1/speak/{id}: how that stream went."""

from __future__ import annotations

import re
import time
import uuid
import zlib
from typing import Annotated

from fastapi import APIRouter, Depends

from common.errors import NotFound, documented
from common.streaming import ClosingStreamingResponse, prepend
from contracts.gpu_service import SPEAK_ID_HEADER, VIDEO_PATH_HEADER, SpeakRequest, SpeakResult
from gpu_service.dependencies import Services, get_services
from gpu_service.routes.tts import resolve_speech
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
    order = resolve_speech(request, services)
    avatar = services.engines.avatar.get(request.avatar_engine)
    portrait = services.portraits.resolve(request.portrait)
    seed = request.seed if request.seed is not None else zlib.crc32(request.text.encode())  # blinks vary by text
    session = avatar.open_session(portrait, fps=request.fps, size=request.size, seed=seed)
    speak_id = uuid.uuid4().hex
    video_path = services.settings.output_root / "video" / f"{speak_id}.mp4"
    plan = SpeakPlan(
        text=request.text,
        language=request.language,
        voice=order.voice,
        match_voice=order.match_voice,
        tts=order.engine,
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
