"""The event log the services' progress travels in: events appended from other threads reach every listener, in
order, at once; a late listener gets what it missed; closing ends them all."""

from __future__ import annotations

import asyncio
import threading
import time

from common.concurrency.event_log import EventLog


async def collect(log: EventLog[int], start: int = 0) -> list[int]:
    return [event async for event in log.follow(start)]


def test_events_from_threads_reach_every_listener_in_order() -> None:
    async def scenario() -> tuple[list[int], list[int], list[int], float]:
        log: EventLog[int] = EventLog()
        early = asyncio.create_task(collect(log))
        await asyncio.sleep(0.05)
        arrived: list[float] = []

        def write() -> None:
            for number in range(200):
                log.append(number)
            log.close()

        writer = threading.Thread(target=write)
        started = time.perf_counter()
        writer.start()
        first = await early
        arrived.append(time.perf_counter() - started)
        writer.join()
        late = await collect(log)  # after the close: everything, then the end
        partial = await collect(log, start=150)
        return first, late, partial, arrived[0]

    first, late, partial, seconds = asyncio.run(scenario())
    assert first == list(range(200)) and late == first and partial == list(range(150, 200))
    assert seconds < 1.0, f"the listener took {seconds:.2f} s to hear 200 events: it is woken, not polling"


def test_a_listener_waits_for_the_next_event_without_spinning() -> None:
    async def scenario() -> list[int]:
        log: EventLog[int] = EventLog()
        listener = asyncio.create_task(collect(log))
        await asyncio.sleep(0.2)
        assert not listener.done()

        def write() -> None:
            log.append(7)
            log.close()

        threading.Thread(target=write).start()
        return await asyncio.wait_for(listener, 2)

    assert asyncio.run(scenario()) == [7]


def test_nothing_is_appended_after_the_close() -> None:
    log: EventLog[str] = EventLog()
    log.append("said")
    log.close()
    log.append("too late")
    assert log.events() == ["said"] and log.closed
