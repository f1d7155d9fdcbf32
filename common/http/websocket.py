"""WebSocket refusals: an HTTP answer before the handshake completes where the server allows it, else a close."""

from __future__ import annotations

import contextlib

from fastapi.responses import JSONResponse
from starlette.websockets import WebSocket, WebSocketState

# Close codes (RFC 6455 and IANA's registry) used by this project's WebSockets.
NORMAL = 1000
POLICY = 1008  # a bad first message, a key missing or not valid
TOO_BIG = 1009
SERVER_ERROR = 1011
TRY_AGAIN_LATER = 1013


async def deny(websocket: WebSocket, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
    """Refuse the connection before accepting it: `status` with {"detail": ...} (as every HTTP route answers) when
    the server supports denial responses, else a close with the detail as its reason."""
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(JSONResponse({"detail": detail}, status_code=status, headers=headers))
        return
    await websocket.close(POLICY if status < 500 else TRY_AGAIN_LATER, reason=_short(detail))


async def close_with(websocket: WebSocket, message: str | None, code: int, reason: str = "") -> None:
    """Send a last text message (an error event) if the client is still there, then close; never raises."""
    with contextlib.suppress(Exception):
        connected = WebSocketState.CONNECTED
        if websocket.client_state == connected and websocket.application_state == connected:
            if message is not None:
                await websocket.send_text(message)
            await websocket.close(code, reason=_short(reason))


def _short(reason: str) -> str:
    """A close reason fits in 123 bytes of UTF-8."""
    return reason.encode()[:120].decode(errors="ignore")
