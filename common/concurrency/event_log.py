"""An append-only log of events that any number of asyncio listeners follow as it grows.

Written from any thread (a stream's worker, a performer's), read from the event loop: a listener gets what was
logged before it came, then each new event as it is appended, until the log is closed. Nothing polls: appending
wakes the listeners.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from typing import Generic, TypeVar

EventT = TypeVar("EventT")


class EventLog(Generic[EventT]):
    def __init__(self) -> None:
        self._events: list[EventT] = []
        self._closed = False
        self._lock = threading.Lock()
        self._wakers: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    def append(self, event: EventT) -> None:
        with self._lock:
            if self._closed:
                return
            self._events.append(event)
        self._wake()

    def close(self) -> None:
        """No more events: listeners return once they have had every one."""
        with self._lock:
            self._closed = True
        self._wake()

    @property
    def closed(self) -> bool:
        return self._closed

    def __len__(self) -> int:
        with self._lock:
            return len(self._events)

    def events(self) -> list[EventT]:
        with self._lock:
            return list(self._events)

    async def follow(self, start: int = 0) -> AsyncIterator[EventT]:
        """The events from index `start` on, as they come, until the log is closed."""
        waker = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._wakers.add(waker)
        index = start
        try:
            while True:
                waker[1].clear()  # before reading: an append after the read sets it again
                with self._lock:
                    new, closed = self._events[index:], self._closed
                for event in new:
                    index += 1
                    yield event
                if closed:
                    return
                if not new:
                    await waker[1].wait()
        finally:
            with self._lock:
                self._wakers.discard(waker)

    def _wake(self) -> None:
        with self._lock:
            wakers = list(self._wakers)
        for loop, event in wakers:
            with contextlib.suppress(RuntimeError):  # a listener's loop that has closed
                loop.call_soon_threadsafe(event.set)
