"""Live sessions through the runtime: signaling with the persona resolved, the session's turns kept in a
conversation (a reply cut short as partial), the owner remembered. Media flows between the client and the
gpu_service directly."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from harness.stack import local_stack
from tests.live_client import connect, run_session


def test_signaling_through_the_runtime(tmp_path: Path) -> None:
    """The runtime relays the offer (with the persona's voice and portrait resolved) and remembers the owner."""
    with local_stack(tmp_path / "gpu", tmp_path / "data", tmp_path / "logs") as (_, runtime):
        run_session(_through_the_runtime(runtime.url))


async def _through_the_runtime(url: str) -> None:
    persona = {"name": "Lena", "voice": "synthetic_en_female", "portrait": "astronaut_full", "language": "en"}
    peer = await connect(url, persona=persona)
    await asyncio.sleep(1.0)
    assert len(peer.video) >= 15 and peer.video[-1][1].shape == (512, 512, 3)  # the runtime's video size
    peer.send(type="say", text="Hello from the runtime.")
    assert "Hello from the runtime" in (await peer.wait_event("done"))["text"]
    peer.send(type="chat", text="What is your name?")
    answered = await peer.wait_event("done", timeout_s=120)  # the language model loads the first time
    peer.events.clear()  # the first reply's sentences
    peer.send(type="chat", text="Tell me a long story about the sea.")
    await peer.wait_event("sentence", timeout_s=60)
    peer.send(type="interrupt")
    cut = await peer.wait_event("interrupted", timeout_s=5)
    async with httpx.AsyncClient() as client:
        info = await client.get(f"{url}/api/v1/sessions/{peer.session_id}")
        assert info.status_code == 200 and info.json()["state"] == "connected"
        conversation_id = peer.answer["conversation_id"]
        refused = await client.post(f"{url}/api/v1/sessions", json={"sdp": "v=0", "type": "offer", "size": 256})
        assert refused.status_code == 422  # the runtime's own contract: no size, a persona instead
        assert (await client.delete(f"{url}/api/v1/sessions/{peer.session_id}")).status_code == 204
        assert (await client.get(f"{url}/api/v1/sessions/{peer.session_id}")).status_code == 404
        conversation = (await client.get(f"{url}/api/v1/conversations/{conversation_id}")).json()
    await peer.pc.close()
    assert conversation["persona"]["name"] == "Lena"
    turns = [(message["role"], message["status"], message["text"]) for message in conversation["messages"]]
    assert turns == [
        ("user", "done", "What is your name?"),
        ("assistant", "done", answered["text"]),
        ("user", "done", "Tell me a long story about the sea."),
        ("assistant", "partial", cut["text"]),  # as far as it was said when it was stopped
    ]
