"""Run untrusted decoding in a child process with a time limit and a memory ceiling: a hostile file can waste
seconds, not the service.

A decoder stuck in a loop (or a file crafted to decode forever) is killed when the limit passes; the caller gets
a 422 saying so. One that needs more memory than the ceiling fails in the child (413). The child's exceptions (e.g.
a 413 for a file too long) come back as they were raised.
"""

from __future__ import annotations

import multiprocessing
import resource
from collections.abc import Callable
from functools import lru_cache
from multiprocessing.connection import Connection
from multiprocessing.context import ForkServerContext
from pathlib import Path
from typing import Any, TypeVar

from common.errors import TooLarge, Unprocessable

T = TypeVar("T")
PRELOAD = ["numpy", "soundfile", "av", "common.media.audio", "common.media.voice_sample"]


@lru_cache(maxsize=1)
def _context() -> ForkServerContext:
    # forkserver: children fork from a small clean server (not from a threaded web server) with the decoders
    # already imported, so each one starts in milliseconds.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return context


def _limit_memory(memory_mb: int) -> None:
    """Address space: what the child has mapped now (the preloaded decoders) plus `memory_mb`."""
    mapped = int(Path("/proc/self/statm").read_text().split()[0]) * resource.getpagesize()
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    ceiling = mapped + memory_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (ceiling if hard == resource.RLIM_INFINITY else min(ceiling, hard), hard))


def _child(sink: Connection, function: Callable[..., Any], args: tuple[Any, ...], memory_mb: int) -> None:
    try:
        _limit_memory(memory_mb)
        sink.send((True, function(*args)))
    except BaseException as error:  # everything goes back to the parent, which decides
        sink.send((False, error))
    finally:
        sink.close()


def run_bounded(function: Callable[..., T], *args: Any, timeout_s: float, what: str, memory_mb: int = 1024) -> T:
    """`function(*args)` in a child process; Unprocessable if it takes longer than `timeout_s`, TooLarge if it
    needs more than `memory_mb` of memory."""
    context = _context()
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(send, function, args, memory_mb), daemon=True)
    process.start()
    send.close()
    try:
        if not receive.poll(timeout_s):
            raise Unprocessable(f"{what} took longer than {timeout_s:g} s to decode and was given up")
        try:
            ok, value = receive.recv()
        except EOFError as error:  # the child died without answering (crash in a native decoder)
            raise Unprocessable(f"{what} could not be decoded (the decoder crashed)") from error
    finally:
        if process.is_alive():
            process.kill()
        process.join()
        receive.close()
    if ok:
        return value  # type: ignore[no-any-return]
    if isinstance(value, MemoryError):
        raise TooLarge(f"{what} needs more than {memory_mb} MB to decode, the most allowed") from value
    raise value
