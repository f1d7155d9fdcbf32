"""POST /api/v1/transcribe: a recording (WAV, MP3, M4A, the browser's WebM/Opus, ...) to text and its language."""

from __future__ import annotations

import asyncio
import time
from contextlib import ExitStack
from typing import Annotated

from fastapi import APIRouter, Depends, UploadFile

from common.errors import Unprocessable, documented
from common.http.uploads import receive_upload
from common.media.audio import read_recording
from common.media.bounded import run_bounded
from contracts.gpu_service import TranscribeResponse, TranscribeTimings, TranscriptSegment
from gpu_service.dependencies import Services, get_services
from gpu_service.engines.asr.transcriber import RATE

router = APIRouter(prefix="/api/v1")


@router.post("/transcribe", response_model=TranscribeResponse, responses=documented(400, 413, 422, 503))
async def transcribe(file: UploadFile, services: Annotated[Services, Depends(get_services)]) -> TranscribeResponse:
    """What the recording says, in which of en, zh and es (Whisper's own first guess beside it), with segments.

    Silence is removed first (voice activity detection); a recording without speech is refused with 422, as is one
    that is not audio. Decoding runs in a child process with a time limit."""
    started = time.perf_counter()
    settings = services.settings.asr
    with ExitStack() as held:  # Whisper stays loaded while it is used
        transcriber = await asyncio.to_thread(services.engines.asr.hold, None, held)
        name = file.filename or "recording"
        path = await receive_upload(
            file, services.settings.output_root / "inputs" / "audio", settings.max_bytes, "audio", "GPU_ASR__MAX_BYTES"
        )
        try:
            samples = await asyncio.to_thread(
                run_bounded,
                read_recording,
                path,
                name,
                RATE,
                settings.max_seconds,
                "GPU_ASR__MAX_SECONDS",
                "speech",
                timeout_s=settings.decode_timeout_s,
                what=f"'{name}'",
                memory_mb=settings.decode_memory_mb,
            )
        finally:
            path.unlink(missing_ok=True)
        decoded = time.perf_counter()
        transcript = await asyncio.to_thread(transcriber.transcribe, samples)
        if transcript.speech_s < settings.min_speech_s or not transcript.text:
            raise Unprocessable(f"no speech found in '{name}' (silence or noise only); record again, closer to the mic")
        finished = time.perf_counter()
        return TranscribeResponse(
            text=transcript.text,
            language=transcript.language,
            whisper_language=transcript.whisper_language,
            language_probability=transcript.language_probability,
            duration_s=len(samples) / RATE,
            speech_s=transcript.speech_s,
            segments=[
                TranscriptSegment(start_s=start, end_s=end, text=text) for start, end, text in transcript.segments
            ],
            model=transcriber.model_name,
            timings=TranscribeTimings(
                decode_s=decoded - started, transcribe_s=finished - decoded, total_s=finished - started
            ),
        )
