"""Run a generator ahead in a worker thread, so producing items overlaps with consuming them.

Rendering frames (numpy/OpenCV, which release the GIL) and encoding them (x264's own threads) then use both
cores instead of taking turns.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")
_DONE = object()


class Prefetch(Generic[T]):
    """`items` produced up to `depth` ahead in a worker thread. Iterate it, or poll() it where waiting would stall
    other work. An exception in the producer is raised to the consumer; close() (or leaving a for loop early) stops
    the producer after the item in hand and closes `items`."""

    def __init__(self, items: Iterable[T], depth: int) -> None:
        self._buffer: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._source = iter(items)
        self._finished = False
        self._worker = threading.Thread(target=self._produce, name="prefetch", daemon=True)
        self._worker.start()

    def __iter__(self) -> Iterator[T]:
        try:
            while True:
                yield self._unwrap(self._buffer.get())
        except StopIteration:
            return
        finally:
            self.close()

    def poll(self, timeout_s: float) -> list[T]:
        """The next item, or [] if none came within `timeout_s`. StopIteration once all items were taken."""
        if self._finished:
            raise StopIteration
        try:
            item = self._buffer.get(timeout=timeout_s)
        except queue.Empty:
            return []
        try:
            return [self._unwrap(item)]
        except BaseException:
            self.close()
            raise

    def ready(self) -> bool:
        """Whether poll() would return at once (an item, the end, or the producer's failure)."""
        return self._finished or not self._buffer.empty()

    def close(self, wait: bool = True) -> None:
        """Stop the producer; `wait=False` returns at once (it ends, and closes `items`, in its own time). `items`
        with a cancel() method are told at once, from here: they need not finish the item in hand first."""
        self._stop.set()
        cancel = getattr(self._source, "cancel", None)
        if callable(cancel):
            cancel()
        if wait:
            self._worker.join(timeout=5)

    def _unwrap(self, item: object) -> T:
        if item is _DONE:
            self._finished = True
            raise StopIteration
        if isinstance(item, BaseException):
            self._finished = True
            raise item
        return item  # type: ignore[return-value]

    def _offer(self, item: object) -> bool:
        """Hand `item` over unless the consumer has gone."""
        while not self._stop.is_set():
            try:
                self._buffer.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self) -> None:
        try:
            for item in self._source:
                if not self._offer(item):
                    return
            self._offer(_DONE)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            self._offer(exc)
        finally:
            # Closed here, in the thread that iterates it: a generator holding a lock releases it at once.
            close = getattr(self._source, "close", None)
            if close is not None:
                close()


def prefetch(items: Iterable[T], depth: int = 4) -> Prefetch[T]:
    return Prefetch(items, depth)
