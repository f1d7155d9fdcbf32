"""The avatar stream through the runtime: the key in the headers or (as a browser sends it) in the start message,
an uploaded portrait resolved, a place per key, a page from another site refused, a vanished client's place back."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from client.avatar_stream import AvatarStreamClient, StreamRefused
from common.process.launch import RunningService
from contracts.avatar_stream import PATH, StreamStart
from contracts.runtime import UploadedPortrait
from gpu_service.config import DEFAULT_ASSETS
from harness.stack import local_stack
from tests.avatar_stream import pcm16, receive, recording, rgb
from tests.photos import cameraman

KEY = "stream-test-key"
READER = DEFAULT_ASSETS / "voices" / "librivox_en_reader.wav"


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    base = tmp_path_factory.mktemp("stream-stack")
    env = {"RUNTIME_API_KEYS": json.dumps([KEY, "other-key"]), "RUNTIME_LIVE_SESSIONS_PER_KEY": "1"}
    with local_stack(base / "gpu", base / "data", base / "logs", runtime_env=env) as (_, running):
        yield running


async def _open_when_free(url: str, **options: object) -> ClientConnection:
    """A raw connection, retried while the key's place is still held by a stream the test just ended (its
    client's close returns before the runtime has let go of the place)."""
    deadline = time.monotonic() + 5
    while True:
        try:
            return await connect(url.replace("http", "ws") + PATH, **options)  # type: ignore[arg-type]
        except InvalidStatus as refused:
            if refused.response.status_code != 429 or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


def _uploaded_portrait(url: str, folder: Path) -> str:
    photo = folder / "cameraman.png"
    cv2.imwrite(str(photo), cameraman())  # grayscale
    with photo.open("rb") as handle:
        response = httpx.post(
            f"{url}/api/v1/portraits",
            files={"file": ("cameraman.png", handle)},
            headers={"Authorization": f"Bearer {KEY}"},
            timeout=60,
        )
    assert response.status_code == 201, response.text
    return UploadedPortrait.model_validate(response.json()).id


def test_an_uploaded_face_speaks_someone_elses_audio_and_a_key_holds_one_place(
    runtime: RunningService, tmp_path: Path
) -> None:
    portrait = _uploaded_portrait(runtime.url, tmp_path)
    start = StreamStart(type="start", portrait=portrait, size=256, output="frames")

    async def scenario() -> None:
        async with AvatarStreamClient.connect(runtime.url, start, key=KEY) as client:
            received, reader = receive(client)
            # The key's one place is taken: a second stream (or live session) of the same key waits its turn.
            with pytest.raises(StreamRefused) as refused:
                async with AvatarStreamClient.connect(runtime.url, start, key=KEY):
                    pass
            assert refused.value.status == 429 and refused.value.retry_after_s is not None
            with pytest.raises(StreamRefused) as hidden:  # another key has a place of its own, not this upload
                async with AvatarStreamClient.connect(runtime.url, start, key="other-key"):
                    pass
            assert f"no uploaded portrait '{portrait}'" in hidden.value.detail
            await client.push_recording(pcm16(recording(READER, 16000, seconds=1.0)), real_time=False)
            await client.close()
            await asyncio.wait_for(reader, 20)
        spoken = [frame for _, frame in received.frames() if frame.speaking]
        assert 24 <= len(spoken) <= 26 and spoken[0].width == 256
        still = rgb(received.frames()[0][1]).astype(np.float32)
        # The upload's face, not a bundled one: a grey photo gives grey frames (the bundled portraits are in colour).
        assert np.abs(still - still.mean(axis=2, keepdims=True)).mean() < 3

    asyncio.run(scenario())


def test_a_browser_sends_its_key_in_the_start_message(runtime: RunningService) -> None:
    start = StreamStart(type="start", size=128, output="frames")

    async def scenario() -> None:
        async with AvatarStreamClient.connect(runtime.url, start, key="other-key", in_message=True) as client:
            assert client.ready.type == "ready"
        for key, says in ((None, "API key missing"), ("wrong", "API key not valid")):
            async with connect(runtime.url.replace("http", "ws") + PATH) as socket:
                await socket.send(start.model_copy(update={"key": key}).model_dump_json(exclude_none=True))
                event = json.loads(await socket.recv())
                assert event["type"] == "error" and says in event["detail"], event
                await socket.wait_closed()
                assert socket.close_code == 1008
        with pytest.raises(StreamRefused) as refused:  # a wrong key in the header: refused before the handshake
            async with AvatarStreamClient.connect(runtime.url, start, key="wrong"):
                pass
        assert refused.value.status == 401

    asyncio.run(scenario())


def test_a_page_from_another_site_may_not_open_it(runtime: RunningService) -> None:
    async def scenario() -> None:
        url = runtime.url.replace("http", "ws") + PATH
        with pytest.raises(Exception) as refused:
            async with connect(url, origin="https://elsewhere.example"):  # type: ignore[arg-type]
                pass
        assert "403" in str(refused.value)
        host = runtime.url.split("//", 1)[1]
        headers = {"Authorization": f"Bearer {KEY}"}
        async with await _open_when_free(runtime.url, origin=f"http://{host}", additional_headers=headers) as ok:
            await ok.send(StreamStart(type="start", size=128).model_dump_json())
            assert json.loads(await ok.recv())["type"] == "ready"

    asyncio.run(scenario())


def test_a_client_that_vanishes_gives_its_keys_place_back(runtime: RunningService) -> None:
    start = StreamStart(type="start", size=128, output="frames")

    async def scenario() -> None:
        vanishing = await _open_when_free(runtime.url, additional_headers={"Authorization": f"Bearer {KEY}"})
        await vanishing.send(start.model_dump_json(exclude_none=True))
        assert json.loads(await vanishing.recv())["type"] == "ready"
        vanishing.transport.abort()  # no close frame: the network dropped it
        deadline = time.monotonic() + 10
        while True:
            try:
                async with AvatarStreamClient.connect(runtime.url, start, key=KEY) as again:
                    assert again.ready.type == "ready"
                return
            except StreamRefused as refused:
                assert refused.status == 429 and time.monotonic() < deadline, "the key's place was not given back"
                await asyncio.sleep(0.2)

    asyncio.run(scenario())
