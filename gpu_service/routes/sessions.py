"""Live sessions over WebRTC: POST an offer, get the answer; the avatar then streams as video and audio tracks and
takes commands on a data channel (say, chat, interrupt: JSON, see SessionCommand)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.responses import StreamingResponse

from common.errors import documented
from common.http import sse
from contracts.gpu_service import SessionAnswer, SessionInfo, SessionOffer
from gpu_service.sessions.live import LiveSessions

router = APIRouter(prefix="/api/v1/sessions")


def get_sessions(request: Request) -> LiveSessions:
    sessions: LiveSessions = request.app.state.sessions
    return sessions


@router.post("", response_model=SessionAnswer, status_code=201, responses=documented(400, 404, 413, 422, 503))
async def open_session(offer: SessionOffer, sessions: Annotated[LiveSessions, Depends(get_sessions)]) -> SessionAnswer:
    """Answer a WebRTC offer: the avatar's video (idle when silent) and audio tracks, and a data channel for
    commands. The offer should ask to receive one video and one audio track and open a data channel. 503 when
    GPU_SESSIONS__MAX sessions already run."""
    return await sessions.open(offer)


@router.get("/{session_id}", response_model=SessionInfo, responses=documented(404))
async def session_info(session_id: str, sessions: Annotated[LiveSessions, Depends(get_sessions)]) -> SessionInfo:
    """Whether the peer is connected, whether the avatar speaks, what has been sent."""
    return sessions.get(session_id).info()


@router.get(
    "/{session_id}/turns",
    response_class=StreamingResponse,
    responses={200: {"content": {sse.MEDIA_TYPE: {}}}, **documented(404)},
)
async def session_turns(
    session_id: str, sessions: Annotated[LiveSessions, Depends(get_sessions)], start: Annotated[int, Query(ge=0)] = 0
) -> StreamingResponse:
    """The session's conversation as server-sent events, each a SessionTurn as JSON: the turns from index `start`
    on, then each new one as it ends (a reply when it is said or cut short), until the session ends."""
    log = sessions.get(session_id).turn_log

    async def turns() -> AsyncIterator[bytes]:
        async for turn in log.follow(start):
            yield sse.event(turn)

    return StreamingResponse(turns(), media_type=sse.MEDIA_TYPE, headers=sse.HEADERS)


@router.delete("/{session_id}", status_code=204, response_class=Response, responses=documented(404))
async def close_session(session_id: str, sessions: Annotated[LiveSessions, Depends(get_sessions)]) -> Response:
    """End the session: the peer connection closes and everything it held is released."""
    sessions.get(session_id)
    await sessions.close(session_id, "ended by DELETE")
    return Response(status_code=204)
