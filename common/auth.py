"""Optional bearer-key guard for a service: /health stays open, everything else needs a key when keys are set.

Keys come as `Authorization: Bearer <key>` or `X-API-Key: <key>` and are compared in constant time.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Collection

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

OPEN_PATHS = frozenset({"/health"})


def presented_key(request: Request) -> str | None:
    authorization = request.headers.get("authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return request.headers.get("x-api-key") or None


def key_matches(presented: str, keys: Collection[str]) -> bool:
    # Check every key (no early exit) so timing does not reveal which one nearly matched.
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(presented.encode(), key.encode())
    return matched


def install_key_guard(app: FastAPI, keys: Collection[str], what: str) -> None:
    """No keys: nothing is guarded. `what` names the setting, so a 401 says how to fix it."""
    if not keys:
        return

    @app.middleware("http")
    async def guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if request.url.path in OPEN_PATHS or request.method == "OPTIONS":
            return await call_next(request)
        presented = presented_key(request)
        if presented is None or not key_matches(presented, keys):
            reason = "missing" if presented is None else "not valid"
            return JSONResponse(
                status_code=401,
                content={"detail": f"API key {reason}: send 'Authorization: Bearer <key>' or 'X-API-Key' ({what})"},
                headers={"WWW-Authenticate": "Bearer"},
            )
        return await call_next(request)
