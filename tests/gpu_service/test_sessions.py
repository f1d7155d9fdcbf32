"""Live sessions over WebRTC, against the real gpu_service: an aiortc client connects over loopback, receives the
avatar's video and audio, sends commands on the data channel, interrupts, leaves."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator

import httpx
import numpy as np
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection

from common.media.audio import load_audio, rms_dbfs
from common.process.launch import RunningService, run_service
from contracts.gpu_service import TurnTimings
from evaluator.metrics.intelligibility import Listener, normalize_text
from gpu_service.config import DEFAULT_ASSETS
from tests.live_client import Microphone, connect, mouth_motion, run_session

SILENT_DBFS = -50
QUESTION = DEFAULT_ASSETS / "voices" / "librivox_en_reader.wav"


@pytest.fixture(scope="module")
def live_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    root = tmp_path_factory.mktemp("live")
    env = {
        "GPU_OUTPUT_ROOT": str(root / "out"),
        "GPU_SESSIONS__MAX": "2",
        "GPU_SESSIONS__CONNECT_TIMEOUT_S": "5",
        "GPU_LLM__MAX_SENTENCES": "1",  # a reply of one sentence says it was heard as well as four: in less time
    }
    with run_service("gpu_service.app:create_app", env, root) as service:
        yield service


def stages(event: dict[str, object], start: str, expected: list[str]) -> dict[str, float]:
    """The event's turn timings: from `start`, the `expected` stages present, in the order they happen."""
    timings = TurnTimings.model_validate(event["timings"])
    assert timings.start == start, timings
    reached = {stage: getattr(timings, f"{stage}_s") for stage in expected}
    assert all(seconds is not None for seconds in reached.values()), timings
    seconds = list(reached.values())
    assert seconds == sorted(seconds) and seconds[0] >= 0, timings
    return reached


def test_a_session_idles_speaks_is_interrupted_and_ends(live_service: RunningService) -> None:
    run_session(_a_session(live_service.url))


async def _a_session(url: str) -> None:
    peer = await connect(url, language="en", size=256)
    await asyncio.sleep(2.0)
    start = time.monotonic()
    await asyncio.sleep(2.0)
    idle_frames = [frame for at, frame in peer.video if at >= start]
    assert len(idle_frames) >= 40, len(idle_frames)  # 25 fps held: 50 expected in 2 s
    assert idle_frames[0].shape == (256, 256, 3) and idle_frames[0].std() > 20  # a picture, not black
    assert rms_dbfs(peer.audio_between(start, time.monotonic())) < SILENT_DBFS  # silent when idle
    idle_motion = mouth_motion(idle_frames)

    said_at = time.monotonic()
    peer.send(type="say", text="Hello there! It is a lovely day for a walk in the park.")
    await peer.wait_event("speaking")
    sentence = await peer.wait_event("sentence")
    assert sentence["text"].startswith("Hello there")
    done = await peer.wait_event("done")
    await asyncio.sleep(0.5)
    speech = peer.audio_between(said_at, time.monotonic())
    assert rms_dbfs(speech) > -35, rms_dbfs(speech)
    loud = np.flatnonzero(np.abs(speech) > 0.05)
    first_audio_s = loud[0] / 48_000 if len(loud) else None
    print(f"say -> first audible sample after {first_audio_s} s (as received)")
    speaking_frames = [frame for at, frame in peer.video if said_at + 0.5 <= at < said_at + 3.0]
    assert mouth_motion(speaking_frames) > 2 * idle_motion, (mouth_motion(speaking_frames), idle_motion)
    assert "lovely day" in done["text"]
    print(f"say: {stages(done, 'message', ['first_audio', 'first_packet'])}")

    async with httpx.AsyncClient() as client:
        info = (await client.get(f"{url}/api/v1/sessions/{peer.session_id}")).json()
    assert info["state"] == "connected" and info["video_frames"] > 100 and info["audio_s"] > 4

    peer.send(type="say", text=" ".join(["This sentence goes on and on so that it can be cut short."] * 6))
    await peer.wait_event("sentence")
    await asyncio.sleep(1.0)
    asked = time.monotonic()
    peer.send(type="interrupt")
    await peer.wait_event("interrupted", timeout_s=1.0)
    await asyncio.sleep(1.0)
    after = peer.audio_between(asked + 0.4, time.monotonic())  # network and jitter buffer allowance
    assert len(after) and rms_dbfs(after) < SILENT_DBFS, rms_dbfs(after)

    async with httpx.AsyncClient() as client:
        assert (await client.delete(f"{url}/api/v1/sessions/{peer.session_id}")).status_code == 204
        assert (await client.get(f"{url}/api/v1/sessions/{peer.session_id}")).status_code == 404
    await peer.pc.close()


def test_capacity_bad_offers_and_a_vanished_peer(live_service: RunningService) -> None:
    run_session(_limits(live_service.url))


async def _limits(url: str) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        bad = await client.post(f"{url}/api/v1/sessions", json={"sdp": "hello", "type": "offer"})
        assert bad.status_code == 422 and "not an SDP offer" in bad.json()["detail"]
        broken = {"sdp": "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n", "type": "offer"}
        unusable = await client.post(f"{url}/api/v1/sessions", json=broken)
        assert unusable.status_code == 422 and "not a usable WebRTC offer" in unusable.json()["detail"]
        missing = await client.post(f"{url}/api/v1/sessions", json={"sdp": "v=0", "type": "answer"})
        assert missing.status_code == 422

        first, second = await connect(url, size=256), await connect(url, size=256)
        third = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        third.addTransceiver("video", direction="recvonly")
        await third.setLocalDescription(await third.createOffer())
        full = await client.post(f"{url}/api/v1/sessions", json={"sdp": third.localDescription.sdp, "type": "offer"})
        assert full.status_code == 503 and "GPU_SESSIONS__MAX=2" in full.json()["detail"]
        assert full.headers["retry-after"]
        await third.close()

        await first.pc.close()  # the peer goes away without a DELETE
        deadline = time.monotonic() + 10
        while (await client.get(f"{url}/api/v1/sessions/{first.session_id}")).status_code != 404:
            assert time.monotonic() < deadline, "the vanished peer's session is still there"
            await asyncio.sleep(0.2)
        await second.pc.close()


def test_speaking_over_the_avatar_stops_it_and_gets_a_reply(live_service: RunningService, listener: Listener) -> None:
    run_session(_barge_in(live_service.url, listener))


async def _barge_in(url: str, listener: Listener) -> None:
    microphone = Microphone()
    # A persona no earlier conversation shares: the model reads it while the user speaks, not after.
    persona = f"You are guide {uuid.uuid4().hex}, who shows people around Lisbon."
    peer = await connect(url, microphone=microphone, size=256, system=persona)
    question, rate = load_audio(QUESTION)
    question = question[: 3 * rate]  # three seconds of a person reading
    peer.send(type="say", text=" ".join(["Let me tell you a long story about the sea and the ships on it."] * 6))
    await peer.wait_event("sentence")
    await asyncio.sleep(1.0)
    spoke_at = time.monotonic()
    microphone.speak(question, rate)
    await peer.wait_event("listening", timeout_s=2)
    interrupted = await peer.wait_event("interrupted", timeout_s=2)
    voiced_at = spoke_at + np.flatnonzero(np.abs(question) > 0.05)[0] / rate  # the reading's first voiced sample
    stopped_s = time.monotonic() - voiced_at
    print(f"barge-in: the avatar stopped {stopped_s * 1000:.0f} ms after the user's voice started")
    assert stopped_s < 1.0 and "long story" in interrupted["text"]
    peer.events = [event for event in peer.events if event["type"] != "sentence"]  # the story's, not the reply's
    heard = await peer.wait_event("heard", timeout_s=10)
    stages(heard, "speech_end", ["turn_end", "transcript"])
    ended_at = spoke_at + len(question) / rate
    expected = listener.hear(question, rate, "en").transcript
    assert set(normalize_text(heard["text"], "en").split()) & set(normalize_text(expected, "en").split())
    await peer.wait_event("speaking", timeout_s=60)  # the reply (the language model loads the first time)
    first = await peer.wait_event("sentence", timeout_s=60)
    print(f"end of utterance -> reply's first sentence sent: {time.monotonic() - ended_at:.2f} s")
    stages(first, "speech_end", ["turn_end", "transcript", "first_token", "first_clause", "first_audio"])
    done = await peer.wait_event("done", timeout_s=120)
    answered = stages(
        done, "speech_end", ["turn_end", "transcript", "first_token", "first_clause", "first_audio", "first_packet"]
    )
    print(f"a spoken turn's stages, from the end of speech: {answered}")
    # The turn ended on silence (GPU_ASR__END_SILENCE_S, 0.5 s) heard out after the last voiced frame, not before.
    assert answered["turn_end"] >= 0.4, answered
    # The persona was read while the user spoke: the reply read the question (~10 tokens), its language reminder
    # and the chat template's headers (~20), not the persona and the style before them (~70 more).
    read = TurnTimings.model_validate(done["timings"]).prompt_tokens_read
    assert read is not None and read <= 45, f"the first reply read {read} tokens of its prompt"
    await peer.pc.close()


@pytest.mark.parametrize(("preferred", "used"), [(None, "VP8"), ("video/H264", "H264")])
def test_vp8_by_default_h264_when_the_peer_prefers_it(
    live_service: RunningService, preferred: str | None, used: str
) -> None:
    async def check() -> None:
        peer = await connect(live_service.url, video_codec=preferred, size=256)
        video = peer.answer["sdp"].split("m=video", 1)[1].split("m=", 1)[0]
        first_payload = video.split("\r\n", 1)[0].split()[2]  # port, proto, then payload types
        assert f"a=rtpmap:{first_payload} {used}/90000" in video
        await asyncio.sleep(1.5)
        assert len(peer.video) >= 20 and peer.video[-1][1].std() > 20  # decoded pictures arrive
        await peer.pc.close()

    run_session(check())
