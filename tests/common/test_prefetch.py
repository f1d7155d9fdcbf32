from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from common.concurrency.prefetch import prefetch


def test_items_arrive_in_order_and_all() -> None:
    assert list(prefetch(iter(range(100)), depth=3)) == list(range(100))


def test_a_producer_error_reaches_the_consumer() -> None:
    def broken() -> Iterator[int]:
        yield 1
        raise ValueError("frame 2 failed")

    with pytest.raises(ValueError, match="frame 2 failed"):
        list(prefetch(broken()))


def test_stopping_early_ends_the_producer() -> None:
    produced = []

    def endless() -> Iterator[int]:
        n = 0
        while True:
            produced.append(n)
            yield n
            n += 1

    for item in prefetch(endless(), depth=2):
        if item == 5:
            break
    assert not any(thread.name == "prefetch" and thread.is_alive() for thread in threading.enumerate())
    assert len(produced) < 20


def test_polling_waits_at_most_the_timeout_and_ends_with_stop_iteration() -> None:
    release = threading.Event()

    def slow() -> Iterator[int]:
        release.wait(5)
        yield 1

    ahead = prefetch(slow())
    assert ahead.poll(0.05) == []  # nothing yet: the caller does other work meanwhile
    release.set()
    assert ahead.poll(5) == [1]
    with pytest.raises(StopIteration):
        ahead.poll(5)
    with pytest.raises(StopIteration):
        ahead.poll(5)
