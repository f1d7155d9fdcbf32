"""Live sessions: signaling and auth here, media from the gpu_service (where the frames are made, so they are
encoded once). The runtime relays the offer and the answer, and remembers whose session is whose."""

from __future__ import annotations

import contextlib
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from common.errors import NotFound, documented
from contracts.gpu_service import SessionInfo
from contracts.runtime import IceServers, LiveSessionAnswer, LiveSessionRequest
from runtime.dependencies import Owner, Services, get_services, rate_limited
from runtime.gpu_requests import session_offer
from runtime.live_sessions import LiveRecord
from runtime.turn import ice_servers

router = APIRouter(prefix="/api/v1/sessions")
ice_router = APIRouter(prefix="/api/v1")


@ice_router.get("/ice-servers", response_model=IceServers, responses=documented(401))
async def ice_servers_for_a_session(owner: Owner, services: Annotated[Services, Depends(get_services)]) -> IceServers:
    """STUN and TURN servers for the client's RTCPeerConnection, the TURN ones with credentials made for this key
    that work for RUNTIME_TURN_CREDENTIAL_TTL_S (ask again for each session); empty without RUNTIME_STUN_URLS /
    RUNTIME_TURN_URLS (loopback and LAN connect without)."""
    return ice_servers(services.settings, owner)


@router.post(
    "",
    response_model=LiveSessionAnswer,
    status_code=201,
    responses=documented(400, 404, 413, 422, 429, 503),
    dependencies=[Depends(rate_limited)],
)
async def open_session(
    body: LiveSessionRequest, owner: Owner, services: Annotated[Services, Depends(get_services)]
) -> LiveSessionAnswer:
    """Answer a WebRTC offer with the avatar live: a video track (idle motion when silent) and an audio track; the
    offer's data channel takes JSON commands (`{"type": "say" | "chat", "text": ...}`, `{"type": "interrupt"}`)
    and gets events back; the offer's microphone track, if any, is listened to (speaking stops the avatar, the
    utterance is answered). The session's chat turns are kept in a new conversation (`conversation_id`), a reply
    cut short stored as partial. Configure the peer with GET /api/v1/ice-servers first (TURN across NAT).
    503 when the gpu_service runs as many sessions as it takes."""
    give_back = services.live_sessions.reserve(owner)  # 429 for a key that holds its share already
    try:
        backend = await services.gateway.backend()
        offer = await session_offer(body, backend, services.uploads, services.settings, owner)
        answer = await backend.client.open_session(offer)
        conversation = services.conversations.create(body.persona, owner)
        record = LiveRecord(owner, conversation.id, backend.client, give_back=give_back)
        services.live_sessions.add(answer.id, record, lasting=not backend.is_fallback)
    except BaseException:
        give_back()
        raise
    return LiveSessionAnswer(id=answer.id, sdp=answer.sdp, conversation_id=conversation.id)


@router.get("/{session_id}", response_model=SessionInfo, responses=documented(404, 503))
async def session_info(
    session_id: str, owner: Owner, services: Annotated[Services, Depends(get_services)]
) -> SessionInfo:
    """The session's state: connecting, connected or closed; whether the avatar speaks; what was sent."""
    record = services.live_sessions.owned(session_id, owner)
    try:
        info = await record.client.session_info(session_id)
    except NotFound:
        services.live_sessions.forget(session_id)  # ended on its own (peer gone, idle)
        raise
    await services.live_sessions.caught_up(session_id, info)
    return info


@router.delete("/{session_id}", status_code=204, response_class=Response, responses=documented(404, 503))
async def close_session(
    session_id: str, owner: Owner, services: Annotated[Services, Depends(get_services)]
) -> Response:
    """End the session now (its last turns are kept in its conversation first)."""
    record = services.live_sessions.owned(session_id, owner)
    with contextlib.suppress(NotFound):
        await record.client.close_session(session_id)
    await services.live_sessions.end(session_id)
    return Response(status_code=204)
