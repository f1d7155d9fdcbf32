"""`WS /api/v1/avatar/stream`: someone else's speech in, this face out (protocol: contracts/avatar_stream.py, the
README's "Your voice agent, this face")."""

from __future__ import annotations

from fastapi import APIRouter, WebSocket

from contracts.avatar_stream import PATH
from runtime.avatar_stream import relay

router = APIRouter()


@router.websocket(PATH)
async def avatar_stream(websocket: WebSocket) -> None:
    await relay(websocket, websocket.app.state.services)
