"""Phase 1: text in, talking-head video out. Language -> speech (gpu_service) -> video (gpu_service) -> stored."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from prometheus_client import Histogram

from common.errors import ServiceUnavailable, TooLarge
from gpu_service.schemas import AvatarRequest, TTSRequest
from runtime.config import Settings
from runtime.gpu_client import GpuUnreachable
from runtime.gpu_gateway import GpuBackend, GpuGateway
from runtime.language import detect_language
from runtime.schemas import EnginesUsed, GenerateRequest, GenerateResult, StageTimings
from runtime.uploads import UploadStore
from runtime.videos import VideoStore

StageCallback = Callable[[str], Awaitable[None]]
log = logging.getLogger("runtime.phase1")


@dataclass
class Phase1Context:
    settings: Settings
    gateway: GpuGateway
    uploads: UploadStore
    videos: VideoStore
    stages: Histogram | None = None  # time per stage, for /metrics


def check_request(request: GenerateRequest, settings: Settings) -> None:
    """Refusals that need no work: made before a job is queued, so a queued job cannot fail for them later."""
    if len(request.text) > settings.max_text_chars:
        raise TooLarge(
            f"text has {len(request.text)} characters; the limit is {settings.max_text_chars} (RUNTIME_MAX_TEXT_CHARS)"
        )


async def run_script(request: GenerateRequest, context: Phase1Context, on_stage: StageCallback) -> GenerateResult:
    started = time.perf_counter()
    settings = context.settings
    check_request(request, settings)
    await on_stage("resolving")
    detected = request.language == "auto"
    language = detect_language(request.text) if detected else request.language
    backend = await context.gateway.backend()
    try:
        return await _produce(request, language, detected, backend, context, on_stage, started)
    except GpuUnreachable as exc:
        # The gpu_service went away mid-request (killed, restarted, network): finish in-process if allowed.
        if backend.name == "remote" and settings.fallback_enabled:
            log.warning("gpu_service lost during the request (%s); finishing with the in-process engines", exc)
            in_process = context.gateway.in_process()
            return await _produce(request, language, detected, in_process, context, on_stage, started)
        raise ServiceUnavailable(
            f"gpu_service stopped answering during the request: {exc}. Nothing was stored; send it again "
            "once the gpu_service is back (scripts/run_gpu_service.sh)."
        ) from exc


async def _produce(
    request: GenerateRequest,
    language: str,
    detected: bool,
    backend: GpuBackend,
    context: Phase1Context,
    on_stage: StageCallback,
    started: float,
) -> GenerateResult:
    settings = context.settings
    voice_name = request.voice or settings.default_voice
    portrait_name = request.portrait or settings.default_portrait
    voice = await context.uploads.resolve_voice(voice_name, backend)
    portrait = await context.uploads.resolve_portrait(portrait_name, backend)

    await on_stage("tts")
    tick = time.perf_counter()
    speech = await backend.client.tts(TTSRequest(text=request.text, language=language, voice=voice))
    tts_s = time.perf_counter() - tick
    _observe(context, "tts", tts_s)

    await on_stage("avatar")
    tick = time.perf_counter()
    video = await backend.client.avatar(
        AvatarRequest(
            audio_path=speech.audio_path,
            portrait=portrait,
            phonemes=speech.phonemes or None,
            fps=settings.fps,
            size=settings.size,
        )
    )
    avatar_s = time.perf_counter() - tick
    _observe(context, "avatar", avatar_s)

    await on_stage("storing")
    video_id = context.videos.new_id()
    await backend.files.fetch(video.video_path, context.videos.path_for(video_id))
    total_s = time.perf_counter() - started
    _observe(context, "total", total_s)
    return GenerateResult(
        video_id=video_id,
        video_url=f"/api/v1/videos/{video_id}",
        duration_s=video.duration_s,
        language=language,
        language_detected=detected,
        voice=voice_name,
        portrait=portrait_name,
        timings=StageTimings(tts_s=tts_s, avatar_s=avatar_s, total_s=total_s),
        rtf=total_s / video.duration_s if video.duration_s else 0.0,
        engines=EnginesUsed(tts=speech.engine, avatar=video.engine),
        fallback=backend.name == "in-process",
    )


def _observe(context: Phase1Context, stage: str, seconds: float) -> None:
    if context.stages is not None:
        context.stages.labels(stage).observe(seconds)
