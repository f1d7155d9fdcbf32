"""Run a generator ahead in a worker thread, so producing items overlaps with consuming them.

Rendering frames (numpy/OpenCV, which release the GIL) and encoding them (x264's own threads) then use both
cores instead of taking turns.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
_DONE = object()


def prefetch(items: Iterable[T], depth: int = 4) -> Iterator[T]:
    """Yield `items` in order, produced up to `depth` ahead; an exception in the producer is raised here.

    When the consumer stops early, the producer stops after the item in hand and closes `items`."""
    buffer: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    source = iter(items)

    def offer(item: object) -> bool:
        """Hand `item` over unless the consumer has gone."""
        while not stop.is_set():
            try:
                buffer.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in source:
                if not offer(item):
                    return
            offer(_DONE)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            offer(exc)
        finally:
            # Closed here, in the thread that iterates it: a generator holding a lock releases it at once.
            close = getattr(source, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name="prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item = buffer.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()  # the consumer stopped early (or failed): let the producer end
        worker.join(timeout=5)
