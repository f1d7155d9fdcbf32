"""Run untrusted decoding in a child process with a time limit: a hostile file can waste seconds, not the service.

A decoder stuck in a loop (or a file crafted to decode forever) is killed when the limit passes; the caller gets
a 422 saying so. The child's exceptions (e.g. a 413 for a file too long) come back as they were raised.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from functools import lru_cache
from multiprocessing.connection import Connection
from multiprocessing.context import ForkServerContext
from typing import Any, TypeVar

from common.errors import Unprocessable

T = TypeVar("T")
PRELOAD = ["numpy", "soundfile", "av", "common.audio", "common.voice_sample"]


@lru_cache(maxsize=1)
def _context() -> ForkServerContext:
    # forkserver: children fork from a small clean server (not from a threaded web server) with the decoders
    # already imported, so each one starts in milliseconds.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return context


def _child(sink: Connection, function: Callable[..., Any], args: tuple[Any, ...]) -> None:
    try:
        sink.send((True, function(*args)))
    except BaseException as error:  # everything goes back to the parent, which decides
        sink.send((False, error))
    finally:
        sink.close()


def run_bounded(function: Callable[..., T], *args: Any, timeout_s: float, what: str) -> T:
    """`function(*args)` in a child process; Unprocessable if it takes longer than `timeout_s`."""
    context = _context()
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(send, function, args), daemon=True)
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
    raise value
