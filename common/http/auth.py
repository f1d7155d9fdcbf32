"""Optional bearer-key guard for a service: /health (and a service's public pages) stay open, everything else
needs a key when keys are set.

Keys come as `Authorization: Bearer <key>` or `X-API-Key: <key>` and are compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Collection

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from common.http.websocket import deny

OPEN_PATHS = frozenset({"/health"})


def presented_key(request: HTTPConnection) -> str | None:
    authorization = request.headers.get("authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return request.headers.get("x-api-key") or None


def has_valid_key(request: HTTPConnection, keys: Collection[str]) -> bool:
    presented = presented_key(request)
    return presented is not None and key_matches(presented, keys)


def owner_of(request: HTTPConnection, keys: Collection[str]) -> str:
    """Whose work a request is: its API key, hashed (keys are never stored); "" when no keys are configured."""
    return owner_of_key(presented_key(request) if keys else None)


def owner_of_key(key: str | None) -> str:
    return "" if key is None else "key:" + hashlib.sha256(key.encode()).hexdigest()[:16]


def key_matches(presented: str, keys: Collection[str]) -> bool:
    # Check every key (no early exit) so timing does not reveal which one nearly matched.
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(presented.encode(), key.encode())
    return matched


class KeyGuard:
    """ASGI middleware (not BaseHTTPMiddleware, which would end a failing stream as if it had succeeded)."""

    def __init__(
        self,
        app: ASGIApp,
        keys: Collection[str],
        what: str,
        public: Collection[str] = (),
        folders: Collection[str] = (),
        websocket_first_message: bool = False,
    ) -> None:
        self.app, self.keys, self.what = app, keys, what
        self.websocket_first_message = websocket_first_message
        self.public = frozenset(public)  # paths anyone may read (a web page)
        self.folders = tuple(folder.rstrip("/") + "/" for folder in folders)  # ... and everything under these

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        path = request.url.path
        if (
            path in OPEN_PATHS
            or request.method == "OPTIONS"
            or (request.method in ("GET", "HEAD") and self._public(path))
        ):
            await self.app(scope, receive, send)
            return
        presented = presented_key(request)
        if presented is None or not key_matches(presented, self.keys):
            reason = "missing" if presented is None else "not valid"
            refusal = JSONResponse(
                status_code=401,
                content={
                    "detail": f"API key {reason}: send 'Authorization: Bearer <key>' or 'X-API-Key' ({self.what})"
                },
                headers={"WWW-Authenticate": "Bearer"},
            )
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A key in the headers must be valid; without one, the route checks its first message when the app allows
        that (browsers cannot set headers on a WebSocket), else the connection is refused."""
        websocket = WebSocket(scope, receive, send)
        presented = presented_key(websocket)
        if presented is None and self.websocket_first_message:
            await self.app(scope, receive, send)
            return
        if presented is None or not key_matches(presented, self.keys):
            reason = "missing" if presented is None else "not valid"
            await deny(websocket, 401, f"API key {reason}: send 'Authorization: Bearer <key>' ({self.what})")
            return
        await self.app(scope, receive, send)

    def _public(self, path: str) -> bool:
        return path in self.public or path.startswith(self.folders)


def install_key_guard(
    app: FastAPI,
    keys: Collection[str],
    what: str,
    public: Collection[str] = (),
    folders: Collection[str] = (),
    websocket_first_message: bool = False,
) -> None:
    """No keys: nothing is guarded. `what` names the setting, so a 401 says how to fix it. `public` paths and
    everything under `folders` can be read (GET, HEAD) without a key. `websocket_first_message`: a WebSocket
    without a key in its headers is let through to a route that checks the key in its first message."""
    if keys:
        app.add_middleware(
            KeyGuard,
            keys=keys,
            what=what,
            public=public,
            folders=folders,
            websocket_first_message=websocket_first_message,
        )
