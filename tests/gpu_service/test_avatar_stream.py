"""The audio-in avatar stream against the real gpu_service: someone else's recording in over a WebSocket, this face
out as fMP4 or raw frames; clear, vanish, a client faster than real time, bad messages."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Callable, Iterator

import httpx
import numpy as np
import pytest
from websockets.asyncio.client import connect

from client.avatar_stream import AvatarStreamClient, StreamRefused
from common.process.launch import RunningService, run_service
from contracts.avatar_stream import PATH, StreamStart
from gpu_service.config import DEFAULT_ASSETS
from tests.avatar_stream import lips_follow, pcm16, receive, recording, rgb, samples_of
from tests.media_stream import decode
from tests.process_usage import resident_mb

READER = DEFAULT_ASSETS / "voices" / "librivox_en_reader.wav"  # a person reading, recorded by LibriVox
FPS = 25


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    root = tmp_path_factory.mktemp("avatar-stream")
    env = {"GPU_OUTPUT_ROOT": str(root / "out"), "GPU_SESSIONS__MAX": "2"}
    with run_service("gpu_service.app:create_app", env, root) as running:
        yield running


def test_a_recording_sent_at_real_time_comes_back_as_fmp4_with_the_same_audio_and_a_mouth_that_follows_it(
    service: RunningService, record_property: Callable[[str, object], None]
) -> None:
    rate = 16000
    speech = recording(READER, rate, seconds=5.0)

    async def scenario() -> tuple[bytes, list[tuple[float, str, int | None]], float]:
        start = StreamStart(type="start", size=256, sample_rate=rate, output="fmp4")
        async with AvatarStreamClient.connect(service.url, start) as client:
            assert client.ready.fps == FPS and client.ready.size == 256
            received, reader = receive(client)
            await asyncio.sleep(0.4)  # a few idle frames first
            began = time.monotonic()
            await client.push_recording(pcm16(speech))
            await asyncio.sleep(0.3)
            await client.close()
            await asyncio.wait_for(reader, 20)
        events: list[tuple[float, str, int | None]] = [(at, e.type, e.frame) for at, e in received.events()]
        return received.fmp4(), events, began

    data, events, began = asyncio.run(scenario())
    kinds = [kind for _, kind, _ in events]
    assert kinds == ["speaking", "idle"], events
    (spoke_at, _, first), (_, _, last) = events
    assert first is not None and last is not None
    # The first frame of speech, counted from the moment its first 40 ms had been sent.
    record_property("first_speech_frame_ms", round((spoke_at - began - 0.04) * 1000))

    decoded = decode(data)
    images, sound, sound_rate = decoded.frames, decoded.audio, decoded.sample_rate
    assert sound_rate == rate and len(images) >= last, (len(images), last)
    assert abs((last - first) - len(speech) / rate * FPS) <= 1, (first, last)  # the audio's length, in frames
    shown = sound[first * rate // FPS : first * rate // FPS + len(speech)]
    assert np.corrcoef(shown, speech[: len(shown)])[0, 1] > 0.9  # the same audio, at the speaking frame (AAC)
    assert np.abs(sound[: first * rate // FPS]).max() < 0.01  # idle before it: silence

    sync = lips_follow(images[first:last], speech, rate, FPS)
    record_property("lip_sync", round(sync.correlation, 3))
    assert sync.correlation >= 0.6 and abs(sync.offset_ms) <= 1000 / FPS, sync


def test_clear_mid_utterance_returns_to_idle_from_the_next_frame(
    service: RunningService, record_property: Callable[[str, object], None]
) -> None:
    rate = 24000
    speech = pcm16(recording(READER, rate, seconds=4.0))

    async def scenario() -> None:
        start = StreamStart(type="start", size=128, sample_rate=rate, output="frames")
        async with AvatarStreamClient.connect(service.url, start) as client:
            received, reader = receive(client)
            await client.push_recording(speech, real_time=False)  # faster than it plays: a backlog waits
            while not any(frame.speaking for _, frame in received.frames()):
                await asyncio.sleep(0.005)
            cleared_at = time.monotonic()
            await client.clear()
            await asyncio.sleep(0.5)
            await client.close()
            await asyncio.wait_for(reader, 10)
        (_, cleared), *more = received.events("cleared")
        assert not more and cleared.frame is not None
        frames = received.frames()
        spoken = [frame for _, frame in frames if frame.speaking]
        # Nothing said after the clear (the client drops speech frames that were on their way, the service makes
        # none after it: checked by the pts).
        assert spoken and all(frame.pts < cleared.frame for frame in spoken)
        after = [(at, frame) for at, frame in frames if frame.pts >= cleared.frame]
        assert after and not after[0][1].speaking and after[0][1].pts == cleared.frame
        assert len(spoken) < len(speech) / (2 * rate) * FPS - 5  # what was not yet shown was dropped
        record_property("clear_to_idle_frame_ms", round((after[0][0] - cleared_at) * 1000))
        pts = [frame.pts for _, frame in frames]
        assert pts == sorted(set(pts))  # one timeline (speech made before the clear is all the client dropped)
        idle = [frame.pts for _, frame in after]
        assert idle == list(range(cleared.frame, cleared.frame + len(idle)))

    asyncio.run(scenario())


def test_sessions_are_counted_and_a_client_that_vanishes_gives_its_place_back(service: RunningService) -> None:
    async def scenario() -> None:
        start = StreamStart(type="start", size=128, output="frames")
        async with AvatarStreamClient.connect(service.url, start) as first:
            vanishing = await connect(service.url.replace("http", "ws") + PATH)
            await vanishing.send(start.model_dump_json(exclude_none=True))
            assert json.loads(await vanishing.recv())["type"] == "ready"
            await vanishing.send(pcm16(np.zeros(8000, np.float32)))
            # Both places taken (GPU_SESSIONS__MAX=2): another stream, and a live session, are refused.
            with pytest.raises(StreamRefused) as refused:
                async with AvatarStreamClient.connect(service.url, start):
                    pass
            assert refused.value.status == 503 and refused.value.retry_after_s == 30
            assert "GPU_SESSIONS__MAX" in refused.value.detail
            async with httpx.AsyncClient(timeout=10) as http:
                offer = {"sdp": "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n", "type": "offer", "language": "en"}
                live = await http.post(f"{service.url}/api/v1/sessions", json=offer)
            assert live.status_code == 503, live.text
            # The second client's machine drops off the network: no close frame, the socket just ends.
            sock = vanishing.transport.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            vanishing.transport.abort()
            deadline = time.monotonic() + 10
            while True:
                try:
                    async with AvatarStreamClient.connect(service.url, start) as third:
                        assert third.ready.type == "ready"
                    break
                except StreamRefused:
                    assert time.monotonic() < deadline, "the vanished client's place was not given back"
                    await asyncio.sleep(0.2)
            assert first.ready.type == "ready"

    asyncio.run(scenario())


def test_a_client_faster_than_real_time_is_held_back_not_buffered(service: RunningService) -> None:
    rate = 48000
    ten_minutes = pcm16(np.tile(recording(READER, rate, seconds=10.0), 60))

    async def scenario() -> None:
        start = StreamStart(type="start", size=256, sample_rate=rate, output="frames")
        async with AvatarStreamClient.connect(service.url, start) as client:
            before = resident_mb(service.process.pid)
            sent = 0
            began = time.monotonic()
            chunk = rate * 2 // 10  # 100 ms messages, as fast as they go, output not read meanwhile
            while time.monotonic() - began < 6.0 and sent < len(ten_minutes):  # held back: a push waits 2 s
                try:
                    await asyncio.wait_for(client.push_audio(ten_minutes[sent : sent + chunk]), 2.0)
                except TimeoutError:
                    break  # held back: the service reads no more until its frames catch up
                sent += chunk
            grown = resident_mb(service.process.pid) - before
            # Bounded: the audio waiting (10 s, ~2 MB) in the service, more in the sockets' buffers: ~10 MB grown,
            # 65-90 s taken, then a push waits. Unbounded (measured with the bound lifted): 180 s taken in 6 s, 61 MB.
            assert grown < 25, f"{grown:.0f} MB more while a client sent faster than real time"
            assert sent < len(ten_minutes) / 4, f"{sent / 2 / rate:.0f} s of audio taken in 6 s"
            client.connection.transport.abort()  # gone without a close handshake (nobody reads the frames made)

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("first", "says"),
    [
        (b"\x00\x01" * 100, "first message must be a text message"),
        ("hello", "start message is not"),
        (json.dumps({"type": "start", "sample_rate": 44100}), "sample_rate"),
        (json.dumps({"type": "start", "volume": 11}), "volume"),
        (json.dumps({"type": "start", "portrait": "nobody-by-that-name"}), "nobody-by-that-name"),
    ],
)
def test_a_bad_start_message_is_refused_in_words(service: RunningService, first: bytes | str, says: str) -> None:
    async def scenario() -> None:
        async with connect(service.url.replace("http", "ws") + PATH) as client:
            await client.send(first)
            event = json.loads(await client.recv())
            assert event["type"] == "error" and says in event["detail"], event
            await client.wait_closed()
            assert client.close_code == 1008

    asyncio.run(scenario())


def test_a_bad_command_mid_stream_is_answered_in_words_and_the_stream_goes_on(service: RunningService) -> None:
    async def scenario() -> None:
        start = StreamStart(type="start", size=128, output="frames")
        async with AvatarStreamClient.connect(service.url, start) as client:
            received, reader = receive(client)
            await client.connection.send(json.dumps({"type": "dance"}))
            await asyncio.sleep(0.3)
            await client.push_recording(pcm16(recording(READER, 16000, seconds=0.5)), real_time=False)
            await client.close()
            await asyncio.wait_for(reader, 10)
        (_, error), *_ = received.events("error")
        assert error.detail is not None and "end_of_speech" in error.detail
        assert [event.type for _, event in received.events()][-2:] == ["speaking", "idle"]
        assert rgb(received.frames()[-1][1]).shape == (128, 128, 3)
        assert len(samples_of([frame for _, frame in received.frames() if frame.speaking])) >= 8000

    asyncio.run(scenario())


def test_audio_sent_just_before_close_is_all_shown(service: RunningService) -> None:
    """close right after the last audio: the stream ends once that audio is shown, not before it starts."""

    async def scenario() -> int:
        start = StreamStart(type="start", size=128, output="frames")
        async with AvatarStreamClient.connect(service.url, start) as client:
            received, reader = receive(client)
            await client.push_audio(pcm16(recording(READER, 16000, seconds=2.0)))
            await client.close()
            await asyncio.wait_for(reader, 20)
        return len([frame for _, frame in received.frames() if frame.speaking])

    for _ in range(3):
        assert asyncio.run(scenario()) == 2 * FPS
