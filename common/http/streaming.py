"""Streamed responses whose source is always closed when the response ends, for any reason.

Starlette closes neither a sync body iterator nor an async one when the client goes away; a generator holding an
engine lock, worker threads or an upstream connection would keep them until garbage collection. This response
closes its source as soon as the response ends: finished, failed or abandoned.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import anyio
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send


class ClosingStreamingResponse(StreamingResponse):
    def __init__(self, source: Iterator[bytes] | AsyncIterator[bytes], status_code: int = 200, **kwargs: Any) -> None:
        self._sync_source = source if isinstance(source, Iterator) else None
        self._async_source = None if isinstance(source, Iterator) else source
        self._guard = threading.Lock()  # a step still running in a worker thread finishes before the close
        body = self._chunks() if self._async_source is None else self._async_source
        super().__init__(body, status_code=status_code, **kwargs)

    def _step(self) -> bytes | None:
        assert self._sync_source is not None
        with self._guard:
            return next(self._sync_source, None)

    def _close_sync_source(self) -> None:
        with self._guard:
            close = getattr(self._sync_source, "close", None)
            if close is not None:
                close()

    async def _chunks(self) -> AsyncIterator[bytes]:
        while (chunk := await anyio.to_thread.run_sync(self._step)) is not None:
            yield chunk

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            if self._async_source is not None:
                close = getattr(self._async_source, "aclose", None)
                if close is not None:
                    with anyio.CancelScope(shield=True):
                        await close()
            else:
                # In a thread of its own: closing may wait for a step in flight, and this task may be cancelled.
                threading.Thread(target=self._close_sync_source, name="close-stream", daemon=True).start()


class prepend(Iterator[bytes]):
    """`first`, then `rest`; closing this closes `rest` and calls `on_close`, started or not (a generator's own
    `finally` would not run if the client left before the first chunk, and itertools.chain has no close)."""

    def __init__(self, first: bytes, rest: Iterator[bytes], on_close: Callable[[], None] = lambda: None) -> None:
        self._first: bytes | None = first
        self._rest = rest
        self._on_close: Callable[[], None] | None = on_close

    def __next__(self) -> bytes:
        if self._first is not None:
            first, self._first = self._first, None
            return first
        try:
            return next(self._rest)
        except StopIteration:
            self.close()
            raise

    def close(self) -> None:
        on_close, self._on_close = self._on_close, None
        if on_close is None:
            return
        try:
            close = getattr(self._rest, "close", None)
            if close is not None:
                close()
        finally:
            on_close()
