"""The avatar stream, relayed: checked and counted here, served by the gpu_service (where the frames are made).

The key comes in the Authorization header (checked before the handshake completes: a bad one gets 401) or, for
browsers, in the start message. A stream takes one of its caller's live-session places (429 beyond), and one of the
gpu_service's (503 with Retry-After beyond). The portrait is resolved as for every route (an upload is put where the
gpu_service reads it); then messages pass both ways unchanged until either side ends, and the gpu_service's close
code and reason reach the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from contextlib import AsyncExitStack
from urllib.parse import urlsplit

from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from common.errors import ServiceError, ServiceUnavailable
from common.http import websocket as ws
from common.http.auth import key_matches, owner_of, owner_of_key, presented_key
from contracts.avatar_stream import StreamStart, error_event, read_start
from runtime.dependencies import Services
from runtime.gpu_client import GpuUnreachable
from runtime.gpu_gateway import GpuBackend

log = logging.getLogger("runtime.avatar_stream")
START_TIMEOUT_S = 10.0


class _Refused(Exception):
    def __init__(self, detail: str, code: int) -> None:
        super().__init__(detail)
        self.detail, self.code = detail, code


def _foreign_origin(websocket: WebSocket, allowed: list[str]) -> str | None:
    """A browser page from another site (CORS does not cover WebSockets: without this, any page a user opens could
    drive a keyless local runtime)."""
    origin = websocket.headers.get("origin")
    if origin is None or "*" in allowed or origin in allowed:
        return None
    return None if urlsplit(origin).netloc == websocket.headers.get("host") else origin


async def relay(websocket: WebSocket, services: Services) -> None:
    keys = services.settings.api_keys
    if (origin := _foreign_origin(websocket, services.settings.cors_origins)) is not None:
        await ws.deny(websocket, 403, f"a page from {origin} may not open the avatar stream (RUNTIME_CORS_ORIGINS)")
        return
    in_headers = not keys or presented_key(websocket) is not None  # a wrong one was refused by the key guard
    async with AsyncExitStack() as held:
        upstream: tuple[GpuBackend, ClientConnection] | None = None
        if in_headers:  # refused before the handshake completes: an HTTP status, as on every route
            try:
                upstream = await _connect(owner_of(websocket, keys), services, held)
            except ServiceError as exc:
                await ws.deny(websocket, exc.status_code, exc.detail, exc.headers)
                return
        await websocket.accept()
        try:
            start = await _start(websocket)
            owner = owner_of(websocket, keys)
            if upstream is None:
                if start.key is None or not key_matches(start.key, keys):
                    reason = "missing" if start.key is None else "not valid"
                    raise _Refused(
                        f"API key {reason}: send it as 'Authorization: Bearer <key>' or in the start message's "
                        '"key" (RUNTIME_API_KEYS)',
                        ws.POLICY,
                    )
                owner = owner_of_key(start.key)
                upstream = await _connect(owner, services, held)
            backend, connection = upstream
            portrait = start.portrait or services.settings.default_portrait
            resolved = await services.uploads.resolve_portrait(portrait, backend, owner)
            forwarded = start.model_copy(update={"portrait": resolved, "key": None})
            await connection.send(forwarded.model_dump_json(exclude_none=True))
            await _pump(websocket, connection)
        except WebSocketDisconnect:
            pass
        except _Refused as exc:
            await ws.close_with(websocket, error_event(exc.detail), exc.code, exc.detail)
        except ServiceError as exc:
            code = ws.POLICY if exc.status_code < 500 and exc.status_code != 429 else ws.TRY_AGAIN_LATER
            await ws.close_with(websocket, error_event(exc.detail), code, exc.detail)
        except Exception:
            log.exception("relaying an avatar stream failed")
            await ws.close_with(websocket, error_event("the avatar stream failed; see the runtime's log"), 1011)


async def _connect(owner: str, services: Services, held: AsyncExitStack) -> tuple[GpuBackend, ClientConnection]:
    """A place among the caller's sessions and a connection to the gpu_service, both held until the stream ends."""
    held.callback(services.live_sessions.reserve(owner))
    backend = await services.gateway.backend()
    try:
        return backend, await held.enter_async_context(backend.client.avatar_stream())
    except GpuUnreachable as exc:
        raise ServiceUnavailable(f"{exc}; try again shortly", headers={"Retry-After": "5"}) from exc


async def _start(websocket: WebSocket) -> StreamStart:
    try:
        message = await asyncio.wait_for(websocket.receive(), timeout=START_TIMEOUT_S)
    except TimeoutError:
        raise _Refused(f"no start message within {START_TIMEOUT_S:g} s", ws.POLICY) from None
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    try:
        return read_start(message.get("text"))
    except ValueError as exc:
        raise _Refused(str(exc), ws.POLICY) from None


async def _pump(client: WebSocket, upstream: ClientConnection) -> None:
    """Both directions until one ends; then the other is closed too, with the gpu_service's code when it ended."""

    async def down() -> None:
        with contextlib.suppress(ConnectionClosed):
            async for message in upstream:
                if isinstance(message, str):
                    await client.send_text(message)
                else:
                    await client.send_bytes(message)

    async def up() -> None:
        while True:
            message = await client.receive()
            if message["type"] == "websocket.disconnect":
                return
            if (data := message.get("bytes")) is not None:
                await upstream.send(data)
            elif (text := message.get("text")) is not None:
                await upstream.send(text)

    tasks = [asyncio.create_task(down()), asyncio.create_task(up())]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed, WebSocketDisconnect):
                await task
    if tasks[0] in done:  # the gpu_service ended the stream: its code and reason reach the client
        await ws.close_with(client, None, upstream.close_code or ws.NORMAL, upstream.close_reason or "")
