"""The audio-driven avatar stream: an agent's speech in over a WebSocket, this face out (protocol:
contracts/avatar_stream.py; GPU_SERVICE.md)."""

from __future__ import annotations

from fastapi import APIRouter, WebSocket

from contracts.avatar_stream import PATH
from gpu_service.sessions.avatar_stream import AvatarStreams

router = APIRouter()


@router.websocket(PATH)
async def avatar_stream(websocket: WebSocket) -> None:
    streams: AvatarStreams = websocket.app.state.streams
    await streams.serve(websocket)
