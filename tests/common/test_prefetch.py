from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from common.prefetch import prefetch


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
