"""An httpx transport that calls an ASGI app in this process and streams its answer.

httpx's own ASGITransport collects the whole body before returning; a streamed video would then arrive all at once.
Here the response is returned at `http.response.start` and its body flows as the app sends it. Closing the response
tells the app the client disconnected and cancels it. An app that fails after it started answering breaks the
stream with a transport error, as a server that dropped the connection would.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, MutableMapping
from typing import Any

import httpx
from starlette.applications import Starlette

Message = MutableMapping[str, Any]
_END = object()


class _Body(httpx.AsyncByteStream):
    def __init__(self, parts: asyncio.Queue[object], task: asyncio.Task[None], disconnected: asyncio.Event) -> None:
        self._parts, self._task, self._disconnected = parts, task, disconnected

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while (part := await self._parts.get()) is not _END:
            if isinstance(part, BaseException):
                raise httpx.ReadError(f"the in-process service failed while answering: {part!r}") from part
            assert isinstance(part, bytes)
            yield part

    async def aclose(self) -> None:
        self._disconnected.set()
        if not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task


class StreamingASGITransport(httpx.AsyncBaseTransport):
    """Runs the app's lifespan too (its start-up before the first request, its shutdown at close): an app in this
    process keeps its background work, such as deleting expired results."""

    def __init__(self, app: Starlette) -> None:
        self.app = app
        self._lifespan: contextlib.AsyncExitStack | None = None
        self._starting = asyncio.Lock()

    async def aclose(self) -> None:
        if self._lifespan is not None:
            await self._lifespan.aclose()
            self._lifespan = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.AsyncByteStream)
        async with self._starting:
            if self._lifespan is None:
                stack = contextlib.AsyncExitStack()
                await stack.enter_async_context(self.app.router.lifespan_context(self.app))
                self._lifespan = stack
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": request.method,
            "headers": [(key.lower(), value) for key, value in request.headers.raw],
            "scheme": request.url.scheme,
            "path": request.url.path,
            "raw_path": request.url.raw_path.split(b"?")[0],
            "query_string": request.url.query,
            "server": (request.url.host, request.url.port),
            "client": ("127.0.0.1", 0),
            "root_path": "",
        }
        chunks = request.stream.__aiter__()
        disconnected = asyncio.Event()
        start: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        parts: asyncio.Queue[object] = asyncio.Queue()

        body_sent = False

        async def receive() -> Message:
            nonlocal body_sent
            if not body_sent:
                try:
                    return {"type": "http.request", "body": await chunks.__anext__(), "more_body": True}
                except StopAsyncIteration:
                    body_sent = True
                    return {"type": "http.request", "body": b"", "more_body": False}
            await disconnected.wait()  # then the client is gone
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.set_result(message)
            elif message["type"] == "http.response.body":
                if message.get("body"):
                    parts.put_nowait(bytes(message["body"]))
                if not message.get("more_body", False):
                    parts.put_nowait(_END)

        async def run() -> None:
            try:
                await self.app(scope, receive, send)
            except Exception as exc:
                if not start.done():
                    start.set_exception(exc)
                parts.put_nowait(exc)
            parts.put_nowait(_END)

        task = asyncio.create_task(run())
        message = await start
        return httpx.Response(
            message["status"], headers=message.get("headers", []), stream=_Body(parts, task, disconnected)
        )
