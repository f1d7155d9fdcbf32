"""Text in, talking-head video out, as a stream: the gpu_service's /speak fragments pass through while they are
stored. A whole-clip answer (and a job) is the same stream consumed to the end.

The stored video appears only when the stream ended well (remuxed to a plain MP4 with its index first, for
seeking); a stream that breaks leaves nothing under the video's id.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

import anyio
from prometheus_client import Histogram

from common.concurrency.event_log import EventLog
from common.errors import ServiceUnavailable
from common.media.remux import remux_faststart
from common.storage.files import atomic_target
from contracts.gpu_service import Language, SegmentTiming, SpeakResult
from contracts.runtime import EnginesUsed, GenerateRequest, GenerateResult, StageTimings, VideoEnded
from runtime.captions import webvtt
from runtime.config import Settings
from runtime.gpu_client import GpuUnreachable, SpeakStream
from runtime.gpu_gateway import GpuBackend, GpuGateway
from runtime.gpu_requests import check_text, speak_request, spoken_language
from runtime.jobs import StageCallback
from runtime.progress import RunningStreams, SegmentCallback, StreamFollower
from runtime.uploads import UploadStore
from runtime.videos import VideoStore, captions_url, video_url

log = logging.getLogger("runtime.generate")
END_EVENT_WAIT_S = 10.0  # for the end event, once the last bytes came (it is sent as the stream closes)
ENDED_EARLY_WAIT_S = 3.0  # for the end event of a stream left early (the gpu_service notices within a frame)


@dataclass
class GenerateContext:
    settings: Settings
    gateway: GpuGateway
    uploads: UploadStore
    videos: VideoStore
    running: RunningStreams[VideoEnded]  # the streamed videos being made here, followed by their event streams
    stages: Histogram | None = None  # time per stage, for /metrics

    def observe(self, stage: str, seconds: float) -> None:
        if self.stages is not None:
            self.stages.labels(stage).observe(seconds)


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
    follower: StreamFollower  # the stream's events, read while its bytes pass through
    closer: contextlib.AsyncExitStack
    report: SpeakResult | None = None  # the gpu_service's account, once the stream has ended well
    ended_early: SpeakResult | None = None  # its account of a stream that broke off or was left, if it gave one

    async def chunks(self) -> AsyncGenerator[bytes, None]:
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
            self.report = await self.follower.result(END_EVENT_WAIT_S)
            if self.report is None:  # its events broke off: the record, read once
                self.report = await self.backend.client.speak_result(self.speak_id)
            with atomic_target(videos.captions_path(self.video_id)) as captions:
                captions.write_text(webvtt(self.report.segments), encoding="utf-8")
            self.context.observe("total", time.perf_counter() - self.started)
        finally:
            partial.unlink(missing_ok=True)
            with anyio.CancelScope(shield=True):
                await self.closer.aclose()  # the gpu_service stops its work: its end event says how far it got
                if self.report is None:
                    self.ended_early = await self.follower.result(ENDED_EARLY_WAIT_S)
                await self.follower.close()

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
        video_url=video_url(stream.video_id),
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
        captions_url=captions_url(stream.video_id),
        notices=report.notices,
        rtf=total_s / report.duration_s if report.duration_s else 0.0,
        engines=EnginesUsed(tts=report.tts_engine, avatar=report.avatar_engine),
        fallback=stream.backend.is_fallback,
    )


async def open_stream(
    request: GenerateRequest,
    context: GenerateContext,
    on_stage: StageCallback,
    owner: str,
    on_segment: SegmentCallback | None = None,
) -> VideoStream:
    """Resolve the request and start the video for `owner`: refusals arrive here, before any byte is sent."""
    started = time.perf_counter()
    check_text(request.text, context.settings)
    await on_stage("resolving")
    language, detected = spoken_language(request.language, request.text)
    backend = await context.gateway.backend()
    try:
        return await _open(request, language, detected, backend, context, started, owner, on_segment)
    except GpuUnreachable as exc:
        local = await fallback(backend, context, exc)
        return await _open(request, language, detected, local, context, started, owner, on_segment)


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
    on_segment: SegmentCallback | None = None,
) -> VideoStream:
    speak = await speak_request(request, language, backend, context.uploads, context.settings, owner)
    opened = backend.client.speak(speak)
    return await open_video(opened, backend, language, detected, context, started, owner, on_segment)


async def open_video(
    answer_context: AbstractAsyncContextManager[SpeakStream],
    backend: GpuBackend,
    language: Language,
    detected: bool,
    context: GenerateContext,
    started: float,
    owner: str,
    on_segment: SegmentCallback | None = None,
) -> VideoStream:
    """Open a gpu_service video stream (/speak or /reply) as a VideoStream that stores what passes through, its
    events followed from the start (each segment to `on_segment`)."""
    closer = contextlib.AsyncExitStack()
    try:
        answer = await closer.enter_async_context(answer_context)
        follower = StreamFollower(backend.client, answer.speak_id, on_segment)
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
        follower=follower,
        closer=closer,
    )


async def open_followed_stream(request: GenerateRequest, context: GenerateContext, owner: str) -> FollowedVideo:
    """A streamed video whose sentences its owner can follow as they are said (GET /api/v1/videos/{id}/events),
    then how it ended."""
    sentences: list[SegmentTiming] = []
    log: EventLog[SegmentTiming | VideoEnded] | None = None

    async def on_segment(segment: SegmentTiming) -> None:
        if log is None:  # not registered yet: kept until it is
            sentences.append(segment)
        else:
            log.append(segment)

    stream = await open_stream(request, context, no_stage, owner, on_segment)
    log = context.running.start(stream.video_id, owner)
    for segment in sentences:
        log.append(segment)
    return FollowedVideo(stream, context.running)


class FollowedVideo(AsyncIterator[bytes]):
    """A streamed video's bytes; its listeners learn how it ended, however it did: finished, failed, or closed by
    a client that left (before its first byte too, which a generator's own `finally` would not see)."""

    def __init__(self, stream: VideoStream, running: RunningStreams[VideoEnded]) -> None:
        self.stream = stream
        self._running = running
        self._chunks: AsyncGenerator[bytes, None] = stream.chunks()
        self._started = False
        self._ended = False

    async def __anext__(self) -> bytes:
        self._started = True
        try:
            return await self._chunks.__anext__()
        except StopAsyncIteration:
            video_id = self.stream.video_id
            self._end(VideoEnded(status="done", video_url=video_url(video_id), captions_url=captions_url(video_id)))
            raise
        except BaseException as exc:
            self._end(VideoEnded(status="failed", error=str(exc) or type(exc).__name__))
            raise

    async def aclose(self) -> None:
        self._end(VideoEnded(status="failed", error="the stream was closed before the video was complete"))
        await self._chunks.aclose()
        if not self._started:  # the generator never ran: its own cleanup would not either
            await self.stream.closer.aclose()
            await self.stream.follower.close()

    def _end(self, final: VideoEnded) -> None:
        if not self._ended:
            self._ended = True
            self._running.end(self.stream.video_id, final)


async def no_stage(_: str) -> None:
    return None


async def generate(
    request: GenerateRequest, context: GenerateContext, on_stage: StageCallback, owner: str
) -> GenerateResult:
    """The whole clip: the stream consumed to the end. A stream that breaks off is made again by the local engines (if
    allowed): nothing has reached the client yet."""
    speaking = False

    async def on_segment(_: SegmentTiming) -> None:  # the job's stage follows the stream's events
        nonlocal speaking
        if not speaking:
            speaking = True
            await on_stage("speaking")

    stream = await open_stream(request, context, on_stage, owner, on_segment)
    try:
        return _result(request, stream, await stream.consume())
    except GpuUnreachable as exc:
        backend = await fallback(stream.backend, context, exc)
        again = await _open(
            request, stream.language, stream.detected, backend, context, stream.started, owner, on_segment
        )
        return _result(request, again, await again.consume())
