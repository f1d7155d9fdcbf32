"""Request bodies bounded while they arrive, for every route: refused from Content-Length when it is declared,
counted chunk by chunk when it is not. JSON bodies get a small limit of their own; uploads the larger one.

Starlette's multipart parser would otherwise spool a 60 MB upload to disk before a route could say 413, and a
200 MB JSON body would be held in memory whole.
"""

from __future__ import annotations

import json

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MULTIPART_OVERHEAD = 64 * 1024  # form boundaries and part headers around an uploaded file


class _TooLarge(HTTPException):
    """Raised from `receive`: an HTTPException, so the framework answers it as the 413 it is, wherever the
    body is being read (JSON, multipart, a streamed upload)."""


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int, max_json_bytes: int, settings: str) -> None:
        self.app = app
        self.max_bytes, self.max_json_bytes, self.settings = max_bytes, max_json_bytes, settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        is_json = headers.get("content-type", "").split(";")[0].strip().endswith("json")
        limit = self.max_json_bytes if is_json else self.max_bytes
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await self._refuse(send, limit, is_json)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge(413, self._detail(limit, is_json))
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except _TooLarge:
            if started:
                raise
            await self._refuse(send, limit, is_json)

    def _detail(self, limit: int, is_json: bool) -> str:
        what = "a JSON body" if is_json else "a request body"
        return f"{what} may have at most {limit} bytes ({self.settings})"

    async def _refuse(self, send: Send, limit: int, is_json: bool) -> None:
        body = json.dumps({"detail": self._detail(limit, is_json)}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})
