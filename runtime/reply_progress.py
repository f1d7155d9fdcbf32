"""How far running replies have got, for their server-sent events: the gpu_service is asked at most once per
POLL_S per reply, however many clients listen, and each key listens to a bounded number of streams at once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from contracts.gpu_service import SegmentTiming
from runtime.gpu_gateway import GpuGateway
from runtime.per_key import PerKeyLimit

POLL_S = 0.25
FORGET_S = 60.0


@dataclass
class _Asked:
    at: float = -POLL_S
    segments: list[SegmentTiming] | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class ReplyProgress:
    def __init__(self, gateway: GpuGateway, max_listeners_per_key: int) -> None:
        self._gateway = gateway
        self._asked: dict[str, _Asked] = {}
        self._listeners = PerKeyLimit(
            max_listeners_per_key,
            lambda held: (
                f"this key already follows {held} replies' events at once, the most one key may "
                "(RUNTIME_MAX_EVENT_STREAMS); close one first"
            ),
            retry_after_s=5,
        )

    def listen(self, owner: str) -> Callable[[], None]:
        """A place for one more event stream of `owner`'s, or 429; call what it returns (once or more) to leave."""
        return self._listeners.take(owner)

    async def segments(self, speak_id: str, stored: list[SegmentTiming]) -> list[SegmentTiming]:
        """The segments said so far: the gpu_service's latest answer, at most POLL_S old."""
        now = time.monotonic()
        for stale in [key for key, entry in self._asked.items() if now - entry.at > FORGET_S]:
            del self._asked[stale]  # replies whose end no listener saw
        asked = self._asked.setdefault(speak_id, _Asked(at=now - POLL_S))
        async with asked.lock:  # the listeners that come meanwhile wait for this one answer
            if time.monotonic() - asked.at >= POLL_S:
                try:
                    backend = await self._gateway.backend()
                    asked.segments = (await backend.client.speak_result(speak_id)).segments
                except Exception:  # progress is a nicety: the final event still comes from the stored message
                    asked.segments = None
                asked.at = time.monotonic()
        return asked.segments if asked.segments is not None else stored

    def finished(self, speak_id: str) -> None:
        self._asked.pop(speak_id, None)
