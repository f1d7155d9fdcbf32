"""Progress as events, not polls: a gpu_service stream's events followed while its video is relayed, and the
replies being made in this process, whose sentences and stored message their listeners get as they happen."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from common.concurrency.event_log import EventLog
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


ReplyEvent = SegmentTiming | ChatMessage  # a sentence said, then the reply as stored


class RunningReplies:
    """The replies being made in this process, by message id; each key listens to a bounded number at once."""

    def __init__(self, max_listeners_per_key: int) -> None:
        self._replies: dict[str, EventLog[ReplyEvent]] = {}
        self._listeners = PerKeyLimit(
            max_listeners_per_key,
            lambda held: (
                f"this key already follows {held} replies' events at once, the most one key may "
                "(RUNTIME_MAX_EVENT_STREAMS); close one first"
            ),
            retry_after_s=5,
        )

    def start(self, message_id: str) -> EventLog[ReplyEvent]:
        log = self._replies[message_id] = EventLog()
        return log

    def get(self, message_id: str) -> EventLog[ReplyEvent] | None:
        return self._replies.get(message_id)

    def end(self, message_id: str, stored: ChatMessage) -> None:
        """The reply is stored as it ended: its listeners get it, and it is no longer running here."""
        log = self._replies.pop(message_id, None)
        if log is not None:
            log.append(stored)
            log.close()

    def listen(self, owner: str) -> Callable[[], None]:
        """A place for one more event stream of `owner`'s, or 429; call what it returns (once or more) to leave."""
        return self._listeners.take(owner)
