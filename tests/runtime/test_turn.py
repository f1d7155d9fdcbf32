"""Live sessions across NAT and firewalls: the runtime hands each session time-limited TURN credentials (the TURN
REST API scheme), and a session whose peers may use relayed candidates only connects through coturn on loopback:
the client (aiortc) and the gpu_service's peer, both told to relay only."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from aioice.stun import TransactionFailed
from aiortc import RTCConfiguration, RTCIceServer, RTCIceTransportPolicy

from common.process.launch import RunningService
from contracts.runtime import IceServers
from harness.stack import local_stack
from runtime.turn import turn_credential
from tests.live_client import connect, run_session
from tests.turn_server import TurnServer, allocate, turn_server

TTL_S = 600


@pytest.fixture(scope="module")
def turn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TurnServer]:
    with turn_server(tmp_path_factory.mktemp("turn")) as server:
        yield server


@pytest.fixture(scope="module")
def relay_only(turn: TurnServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    base = tmp_path_factory.mktemp("relay-stack")
    runtime_env = {
        "RUNTIME_TURN_URLS": json.dumps(turn.urls),
        "RUNTIME_TURN_SECRET": turn.secret,
        "RUNTIME_TURN_CREDENTIAL_TTL_S": str(TTL_S),
        "RUNTIME_ICE_TRANSPORT_POLICY": "relay",
    }
    with local_stack(base / "gpu", base / "data", base / "logs", {}, runtime_env) as (_, runtime):
        yield runtime


def ice_servers(runtime: RunningService) -> IceServers:
    response = httpx.get(f"{runtime.url}/api/v1/ice-servers")
    assert response.status_code == 200, response.text
    return IceServers.model_validate(response.json())


def test_the_credentials_handed_out_work_until_they_expire(relay_only: RunningService, turn: TurnServer) -> None:
    ice = ice_servers(relay_only)
    assert ice.ice_transport_policy == "relay" and ice.expires_at is not None
    assert abs(ice.expires_at - (time.time() + TTL_S)) < 5
    (server,) = ice.ice_servers
    assert server.urls == turn.urls and server.username and server.credential
    expiry, user = server.username.split(":")
    assert int(expiry) == ice.expires_at and user == "guest"  # no key here; with keys, a hash of it
    run_session(allocate(turn.port, server.username, server.credential))  # accepted
    wrong_secret = turn_credential("not-the-secret", user, ice.expires_at)
    expired = turn_credential(turn.secret, user, int(time.time()) - 1)
    for username, password in (wrong_secret, expired):
        with pytest.raises(TransactionFailed, match="401"):
            run_session(allocate(turn.port, username, password))


def test_a_session_that_may_only_relay_connects_through_turn(relay_only: RunningService) -> None:
    ice = ice_servers(relay_only)
    servers = [RTCIceServer(urls=s.urls, username=s.username, credential=s.credential) for s in ice.ice_servers]
    configuration = RTCConfiguration(iceServers=servers, iceTransportPolicy=RTCIceTransportPolicy.RELAY)

    async def session() -> tuple[int, list[str], Any]:
        peer = await connect(relay_only.url, configuration=configuration)
        deadline = time.monotonic() + 20
        while len(peer.video) < 25 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        ice_transport = peer.pc.getTransceivers()[0].receiver.transport.transport
        nominated = list(ice_transport._connection._nominated.values())
        offered = [line for line in peer.pc.localDescription.sdp.splitlines() if line.startswith("a=candidate")]
        answered = [line for line in peer.answer["sdp"].splitlines() if line.startswith("a=candidate")]
        await peer.pc.close()
        return len(peer.video), offered + answered, nominated

    frames, candidates, nominated = run_session(session())
    assert frames >= 25, "the avatar's frames did not flow through the relay"
    assert candidates and all(" typ relay " in line for line in candidates), candidates  # both peers relay only
    assert nominated and all(pair.local_candidate.type == "relay" for pair in nominated)
    assert all(pair.remote_candidate.type == "relay" for pair in nominated)
