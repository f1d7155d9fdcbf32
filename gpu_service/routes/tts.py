from __future__ import annotations

import time
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends

from common.audio import write_wav
from common.errors import TooLarge, Unprocessable, documented
from gpu_service.dependencies import Services, get_services
from gpu_service.engines.base import TTSEngine
from gpu_service.schemas import PhonemeMark, TTSRequest, TTSResponse, TTSTimings

router = APIRouter(prefix="/api/v1")


@router.post("/tts", response_model=TTSResponse, responses=documented(400, 404, 413, 422, 503))
def synthesize(request: TTSRequest, services: Annotated[Services, Depends(get_services)]) -> TTSResponse:
    """Speak `text` in `language`, in a voice matched to (or, with XTTS, cloned from) the reference voice."""
    settings = services.settings
    if len(request.text) > settings.max_text_chars:
        raise TooLarge(
            f"text has {len(request.text)} characters; the limit is {settings.max_text_chars} (GPU_MAX_TEXT_CHARS)"
        )
    engine: TTSEngine = services.engines.get("tts", request.engine)
    if request.language not in engine.languages:
        raise Unprocessable(f"engine '{engine.name}' does not speak '{request.language}'")
    voice = services.voices.resolve(request.voice) if request.voice else None
    match_voice = settings.voice_matching if request.match_voice is None else request.match_voice

    started = time.perf_counter()
    speech = engine.synthesize(request.text, request.language, voice, match_voice=match_voice)
    path = settings.output_root / "tts" / f"{uuid.uuid4().hex}.wav"
    write_wav(path, speech.samples, speech.sample_rate)
    return TTSResponse(
        audio_path=str(path),
        duration_s=speech.duration_s,
        sample_rate=speech.sample_rate,
        language=request.language,
        voice=request.voice,
        engine=engine.name,
        voice_matched=speech.voice_matched,
        phonemes=[PhonemeMark(t=event.t, phoneme=event.phoneme) for event in speech.phonemes or []],
        timings=TTSTimings(
            synth_s=speech.timings.get("synth_s", 0.0),
            match_s=speech.timings.get("match_s", 0.0),
            total_s=time.perf_counter() - started,
        ),
    )
