from __future__ import annotations

import logging
import time
import uuid
from typing import Annotated

import numpy as np
from fastapi import APIRouter, Depends

from common.errors import documented
from common.http.streaming import ClosingStreamingResponse, prepend
from common.media.audio import streaming_wav_header, to_pcm16, write_wav
from contracts.gpu_service import PhonemeMark, TTSRequest, TTSResponse, TTSTimings
from gpu_service.dependencies import Services, get_services
from gpu_service.engines.base import synthesize
from gpu_service.orders import resolve_speech
from gpu_service.text import join_sentences

router = APIRouter(prefix="/api/v1")
log = logging.getLogger("gpu_service.tts")


@router.post("/tts", response_model=TTSResponse, responses=documented(400, 404, 413, 422, 503))
def speak_to_file(request: TTSRequest, services: Annotated[Services, Depends(get_services)]) -> TTSResponse:
    """Speak `text` in `language`, in a voice matched to (or, with XTTS, cloned from) the reference voice."""
    order = resolve_speech(request, services, request.text)
    started = time.perf_counter()
    try:
        speech = synthesize(order.engine, request.text, request.language, order.voice, match_voice=order.match_voice)
    finally:
        order.release()
    services.metrics.stages.labels("tts").observe(time.perf_counter() - started)
    path = services.settings.output_root / "tts" / f"{uuid.uuid4().hex}.wav"
    write_wav(path, speech.samples, speech.sample_rate)
    return TTSResponse(
        audio_path=str(path),
        duration_s=speech.duration_s,
        sample_rate=speech.sample_rate,
        language=request.language,
        voice=request.voice,
        engine=order.engine.name,
        voice_matched=speech.voice_matched,
        voice_cloned=speech.voice_cloned,
        phonemes=[PhonemeMark(t=event.t, phoneme=event.phoneme) for event in speech.phonemes or []],
        timings=TTSTimings(synth_s=speech.synth_s, total_s=time.perf_counter() - started),
        spoken_text=join_sentences(speech.spoken),
    )


@router.post(
    "/tts/stream",
    response_class=ClosingStreamingResponse,
    responses={200: {"content": {"audio/wav": {}}}, **documented(400, 404, 413, 422, 503)},
)
def stream(request: TTSRequest, services: Annotated[Services, Depends(get_services)]) -> ClosingStreamingResponse:
    """The same speech as a WAV stream (16-bit mono), sent chunk by chunk as the engine produces it.

    The first chunk is made before the answer starts, so errors still arrive as 4xx/5xx; its time is in the
    `X-First-Chunk-Seconds` header.
    """
    order = resolve_speech(request, services, request.text)
    engine = order.engine
    started = time.perf_counter()
    segments = order.speak(request.text)
    try:
        first = next(segments, None)
    except BaseException:
        order.release()
        raise
    first_chunk_s = time.perf_counter() - started
    log.info("tts stream: engine %s, first chunk after %.3f s", engine.name, first_chunk_s)

    header = streaming_wav_header(engine.sample_rate) + to_pcm16(first.samples if first else np.zeros(0, np.float32))

    def stop() -> None:
        segments.close()  # type: ignore[attr-defined]
        order.release()

    body = prepend(header, (to_pcm16(segment.samples) for segment in segments), on_close=stop)
    headers = {
        "X-Engine": engine.name,
        "X-Sample-Rate": str(engine.sample_rate),
        "X-First-Chunk-Seconds": f"{first_chunk_s:.3f}",
    }
    return ClosingStreamingResponse(body, media_type="audio/wav", headers=headers)
