"""Text in, talking-head video out, as a stream: the gpu_service's /speak fragments pass through while they are
stored. A whole-clip answer (and a job) is the same stream consumed to the end.

The stored video appears only when the stream ended well (remuxed to a plain MP4 with its index first, for
seeking); a stream that breaks leaves nothing under the video's id.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

import anyio
from prometheus_client import Histogram

from common.errors import ServiceUnavailable, TooLarge
from common.files import atomic_target
from common.remux import remux_faststart
from contracts.gpu_service import Language, SpeakRequest, SpeakResult
from contracts.runtime import EnginesUsed, GenerateRequest, GenerateResult, StageTimings
from runtime.captions import webvtt
from runtime.config import Settings
from runtime.gpu_client import GpuUnreachable, SpeakStream
from runtime.gpu_gateway import GpuBackend, GpuGateway
from runtime.language import resolve_language
from runtime.uploads import UploadStore
from runtime.videos import VideoStore

StageCallback = Callable[[str], Awaitable[None]]
log = logging.getLogger("runtime.generate")


@dataclass
class GenerateContext:
    settings: Settings
    gateway: GpuGateway
    uploads: UploadStore
    videos: VideoStore
    stages: Histogram | None = None  # time per stage, for /metrics

    def observe(self, stage: str, seconds: float) -> None:
        if self.stages is not None:
            self.stages.labels(stage).observe(seconds)


def check_request(request: GenerateRequest, settings: Settings) -> None:
    """Refusals that need no work: made before a job is queued, so a queued job cannot fail for them later."""
    if len(request.text) > settings.max_text_chars:
        raise TooLarge(
            f"text has {len(request.text)} characters; the limit is {settings.max_text_chars} (RUNTIME_MAX_TEXT_CHARS)"
        )


@dataclass
class VideoStream:
    """A video being made: its id now, its bytes as they come, its result once they have all come."""

    video_id: str
    owner: str  # the API key (hashed) the video belongs to
    backend: GpuBackend
    speak_id: str
    language: Language
    detected: bool  # the language came from "auto"
    context: GenerateContext
    started: float
    upstream: AsyncIterator[bytes]
    closer: contextlib.AsyncExitStack
    report: SpeakResult | None = None  # the gpu_service's account, once the stream has ended well

    async def chunks(self) -> AsyncIterator[bytes]:
        """The fragmented MP4, passed through and stored; raises GpuUnreachable if the stream breaks off."""
        videos = self.context.videos
        partial = videos.partial_path(self.video_id)
        try:
            with partial.open("wb") as sink:
                async for chunk in self.upstream:
                    sink.write(chunk)
                    yield chunk
            videos.claim(self.video_id, self.owner)
            await anyio.to_thread.run_sync(remux_faststart, partial, videos.path_for(self.video_id))
            self.report = await self.backend.client.speak_result(self.speak_id)
            with atomic_target(videos.captions_path(self.video_id)) as captions:
                captions.write_text(webvtt(self.report.segments), encoding="utf-8")
            self.context.observe("total", time.perf_counter() - self.started)
        finally:
            partial.unlink(missing_ok=True)
            with anyio.CancelScope(shield=True):
                await self.closer.aclose()

    async def consume(self) -> SpeakResult:
        """The whole stream, stored; the gpu_service's account of it."""
        async for _ in self.chunks():
            pass
        assert self.report is not None
        return self.report


def _result(request: GenerateRequest, stream: VideoStream, report: SpeakResult) -> GenerateResult:
    total_s = time.perf_counter() - stream.started
    settings = stream.context.settings
    return GenerateResult(
        video_id=stream.video_id,
        video_url=f"/api/v1/videos/{stream.video_id}",
        duration_s=report.duration_s,
        language=report.language,
        language_detected=stream.detected,
        voice=request.voice or settings.default_voice,
        portrait=request.portrait or settings.default_portrait,
        timings=StageTimings(
            first_fragment_s=report.timings.first_fragment_s,
            tts_s=report.timings.tts_s,
            render_s=report.timings.render_s,
            total_s=total_s,
        ),
        segments=report.segments,
        spoken_text=report.spoken_text,
        captions_url=f"/api/v1/videos/{stream.video_id}/captions.vtt",
        notices=report.notices,
        rtf=total_s / report.duration_s if report.duration_s else 0.0,
        engines=EnginesUsed(tts=report.tts_engine, avatar=report.avatar_engine),
        fallback=stream.backend.is_fallback,
    )


async def open_stream(
    request: GenerateRequest, context: GenerateContext, on_stage: StageCallback, owner: str
) -> VideoStream:
    """Resolve the request and start the video for `owner`: refusals arrive here, before any byte is sent."""
    started = time.perf_counter()
    check_request(request, context.settings)
    await on_stage("resolving")
    language, detected = resolve_language(request.language, request.text)
    backend = await context.gateway.backend()
    try:
        return await _open(request, language, detected, backend, context, started, owner)
    except GpuUnreachable as exc:
        local = await fallback(backend, context, exc)
        return await _open(request, language, detected, local, context, started, owner)


async def fallback(backend: GpuBackend, context: GenerateContext, exc: GpuUnreachable) -> GpuBackend:
    """The gpu_service went away during the request (killed, restarted, network): the local one if allowed."""
    if not backend.is_fallback and context.settings.fallback_enabled:
        log.warning("gpu_service lost during the request (%s); finishing with the local engines", exc)
        return await context.gateway.local()
    raise ServiceUnavailable(
        f"gpu_service stopped answering during the request: {exc}. Nothing was stored; send it again "
        "once the gpu_service is back (scripts/run_gpu_service.sh)."
    ) from exc


async def _open(
    request: GenerateRequest,
    language: Language,
    detected: bool,
    backend: GpuBackend,
    context: GenerateContext,
    started: float,
    owner: str,
) -> VideoStream:
    settings = context.settings
    voice = await context.uploads.resolve_voice(request.voice or settings.default_voice, backend, owner)
    portrait = await context.uploads.resolve_portrait(request.portrait or settings.default_portrait, backend, owner)
    speak = SpeakRequest(
        text=request.text,
        language=language,
        voice=voice,
        portrait=portrait,
        face=request.face,
        fps=settings.fps,
        size=settings.size,
    )
    return await open_video(backend.client.speak(speak), backend, language, detected, context, started, owner)


async def open_video(
    answer_context: AbstractAsyncContextManager[SpeakStream],
    backend: GpuBackend,
    language: Language,
    detected: bool,
    context: GenerateContext,
    started: float,
    owner: str,
) -> VideoStream:
    """Open a gpu_service video stream (/speak or /reply) as a VideoStream that stores what passes through."""
    closer = contextlib.AsyncExitStack()
    try:
        answer = await closer.enter_async_context(answer_context)
    except BaseException:
        await closer.aclose()
        raise
    context.observe("first_bytes", time.perf_counter() - started)
    return VideoStream(
        video_id=context.videos.new_id(),
        owner=owner,
        backend=backend,
        speak_id=answer.speak_id,
        language=language,
        detected=detected,
        context=context,
        started=started,
        upstream=answer.chunks,
        closer=closer,
    )


async def generate(
    request: GenerateRequest, context: GenerateContext, on_stage: StageCallback, owner: str
) -> GenerateResult:
    """The whole clip: the stream consumed to the end. A stream that breaks off is made again by the local engines (if
    allowed): nothing has reached the client yet."""
    stream = await open_stream(request, context, on_stage, owner)
    await on_stage("speaking")
    try:
        return _result(request, stream, await stream.consume())
    except GpuUnreachable as exc:
        backend = await fallback(stream.backend, context, exc)
        again = await _open(request, stream.language, stream.detected, backend, context, stream.started, owner)
        return _result(request, again, await again.consume())
