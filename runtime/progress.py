"""Progress as events, not polls: a gpu_service stream's events followed while its video is relayed, and the
streams being made in this process (replies, videos), whose sentences and end their listeners get as they happen."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Generic, TypeVar

from pydantic import BaseModel
from starlette.responses import StreamingResponse

from common.concurrency.event_log import EventLog
from common.http import sse
from contracts.gpu_service import SegmentTiming, SpeakResult
from contracts.runtime import ChatMessage
from runtime.gpu_client import GpuClient
from runtime.per_key import PerKeyLimit

log = logging.getLogger("runtime.progress")
SegmentCallback = Callable[[SegmentTiming], Awaitable[None]]


class StreamFollower:
    """Follows one gpu_service stream's events (GET /api/v1/speak/{id}/events) from when it opens: each segment to
    `on_segment`, and the record its `end` carries."""

    def __init__(self, client: GpuClient, speak_id: str, on_segment: SegmentCallback | None) -> None:
        self._client = client
        self._speak_id = speak_id
        self._on_segment = on_segment
        self._ended: asyncio.Future[SpeakResult | None] = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._follow())

    async def _follow(self) -> None:
        result: SpeakResult | None = None
        try:
            async for event in self._client.speak_events(self._speak_id):
                if event.segment is not None and self._on_segment is not None:
                    await self._on_segment(event.segment)
                if event.type == "end":
                    result = event.result
                    return
        except Exception as exc:  # the record is then read once at the end instead
            log.info("events of stream %s broke off: %s", self._speak_id, exc)
        finally:
            if not self._ended.done():
                self._ended.set_result(result)

    async def result(self, wait_s: float) -> SpeakResult | None:
        """The stream's record from its `end` event, once it comes (None if it did not within `wait_s`)."""
        with contextlib.suppress(TimeoutError):
            return await asyncio.wait_for(asyncio.shield(self._ended), wait_s)
        return None

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task


EndT = TypeVar("EndT")


class RunningStreams(Generic[EndT]):
    """The streams being made in this process (replies, videos), by id: each one's sentences as they are said, then
    how it ended. Only the key that started one may follow it; `listeners` bounds how many each key follows at once
    (one limit shared by every kind of stream)."""

    def __init__(self, listeners: PerKeyLimit) -> None:
        self._streams: dict[str, tuple[str, EventLog[SegmentTiming | EndT]]] = {}
        self._listeners = listeners

    def start(self, stream_id: str, owner: str) -> EventLog[SegmentTiming | EndT]:
        log: EventLog[SegmentTiming | EndT] = EventLog()
        self._streams[stream_id] = (owner, log)
        return log

    def get(self, stream_id: str, owner: str) -> EventLog[SegmentTiming | EndT] | None:
        found = self._streams.get(stream_id)
        return found[1] if found is not None and found[0] == owner else None

    def end(self, stream_id: str, final: EndT) -> None:
        """The stream has ended as `final` says: its listeners get it, and it is no longer running here."""
        found = self._streams.pop(stream_id, None)
        if found is not None:
            found[1].append(final)
            found[1].close()

    def listen(self, owner: str) -> Callable[[], None]:
        """A place for one more event stream of `owner`'s, or 429; call what it returns (once or more) to leave."""
        return self._listeners.take(owner)


def event_listeners(max_per_key: int) -> PerKeyLimit:
    """The limit on event streams one key follows at once, shared by replies' and videos' events."""
    return PerKeyLimit(
        max_per_key,
        lambda held: (
            f"this key already follows {held} event streams at once, the most one key may "
            "(RUNTIME_MAX_EVENT_STREAMS); close one first"
        ),
        retry_after_s=5,
    )


ReplyEvent = SegmentTiming | ChatMessage  # a sentence said, then the reply as stored
RunningReplies = RunningStreams[ChatMessage]


def sentence_event_response(
    events: AsyncIterator[SegmentTiming | EndT], done: Callable[[EndT], BaseModel], leave: Callable[[], None]
) -> StreamingResponse:
    """Server-sent events of a stream: `sentence` ({index, text, spoken, start_s, duration_s}: where it plays in the
    video) for each sentence, then `done` with how it ended, as `done` renders it. `leave` gives the listener's
    place back when the response ends, or when it is dropped unstarted (the client left first)."""

    async def body() -> AsyncIterator[bytes]:
        try:
            index = 0
            async for event in events:
                if isinstance(event, SegmentTiming):
                    yield sse.event({"index": index, **event.model_dump()}, "sentence")
                    index += 1
                else:
                    yield sse.event(done(event).model_dump(mode="json"), "done")
                    return
        finally:
            leave()

    stream = body()
    weakref.finalize(stream, leave)
    return StreamingResponse(stream, media_type=sse.MEDIA_TYPE, headers=sse.HEADERS)
