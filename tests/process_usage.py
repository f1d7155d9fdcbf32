"""What a service process holds and uses, read from /proc: threads, descriptors, resident memory (leak checks), CPU
time."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path


def threads(pid: int) -> int:
    count = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(FileNotFoundError):  # a thread that ended while we looked
            (task / "comm").read_text()
            count += 1
    return count


# asyncio's default executor keeps a worker it started (up to cores + 4) when `to_thread` calls overlap, as a
# session's or a refused offer's setup and teardown do: one more thread after a busier while is that, not a leak (a
# leak of one thread per session or offer is several).
EXECUTOR_SLACK = 1
EXECUTOR_WORKERS = min(32, (os.cpu_count() or 1) + 4)  # the most it keeps (asyncio's default executor)


def settles_to(pid: int, at_most: int, within_s: float = 15) -> int:
    """The process's thread count once it falls to `at_most` (or what it is when `within_s` has passed)."""
    deadline = time.monotonic() + within_s
    while (count := threads(pid)) > at_most and time.monotonic() < deadline:
        time.sleep(0.2)
    return count


def descriptors(pid: int) -> int:
    """Open files and sockets: a session's UDP sockets, its peer's, its tracks' (threads are counted elsewhere:
    asyncio's default executor may keep one more idle worker after a busier while, which is not a leak)."""
    return len(list(Path(f"/proc/{pid}/fd").iterdir()))


def resident_mb(pid: int) -> float:
    return _resident_kb(Path(f"/proc/{pid}/status").read_text()) / 1024


def tree_resident_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            total += _resident_kb(Path(f"/proc/{current}/status").read_text())
        except FileNotFoundError:  # it ended while we looked
            continue
        for task in Path(f"/proc/{current}/task").iterdir():
            with contextlib.suppress(FileNotFoundError):
                pending += [int(child) for child in (task / "children").read_text().split()]
    return total / 1024


def _resident_kb(status: str) -> int:
    return next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def settles_idle(pid: int, busy_below: float = 0.15, within_s: float = 120) -> None:
    """Until the process uses less than `busy_below` of a core over a second: the work a service does after it
    starts (the bundled voices' profiles, fitted in the background) would otherwise share the cores with what is
    measured next."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        before = cpu_seconds(pid)
        time.sleep(1.0)
        if cpu_seconds(pid) - before < busy_below:
            return
    raise AssertionError(f"the service was still busy after {within_s:.0f} s")
