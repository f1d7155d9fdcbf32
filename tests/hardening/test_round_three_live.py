"""Defects found by an outside probe of the live surfaces (round three), each reproduced against real services: a
malformed offer, an unreachable gpu_service, one key holding every slot, a restart, unbounded commands."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection

from common.media.audio import load_audio
from common.process.launch import RunningService, run_service
from gpu_service.config import DEFAULT_ASSETS
from tests.live_client import Microphone, connect, run_session
from tests.process_usage import EXECUTOR_SLACK, EXECUTOR_WORKERS, descriptors, settles_to, threads, tree_resident_mb
from tests.readiness import wait_for_language_model
from tests.runtime.conftest import runtime_env


async def _offer(data_channel_only: bool = False) -> str:
    """A real client's offer (aiortc, as a browser makes one); the peer is closed: the answer is never applied."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    if not data_channel_only:
        pc.addTransceiver("video", direction="recvonly")
        pc.addTransceiver("audio", direction="recvonly")
    pc.createDataChannel("commands")
    await pc.setLocalDescription(await pc.createOffer())
    sdp: str = pc.localDescription.sdp
    await pc.close()
    return sdp


def offer_sdp(data_channel_only: bool = False) -> str:
    return run_session(_offer(data_channel_only))


@pytest.fixture
def gpu(round_three_gpu: RunningService) -> RunningService:
    """Unconnected offers dropped after 3 s (tests/hardening/conftest.py)."""
    return round_three_gpu


def test_malformed_offers_are_refused_in_words_and_leave_nothing_behind(gpu: RunningService, tmp_path: Path) -> None:
    """Before: 'v=0\\nm=foo\\n' answered 500 and left a performer thread blocked for good (30 offers: +30 threads);
    an offer without rtpmap lines and a data-channel-only offer did the same."""
    real = offer_sdp()
    no_rtpmap = "\r\n".join(line for line in real.split("\r\n") if not line.startswith("a=rtpmap"))
    offers = {"garbage": "v=0\nm=foo\n", "no rtpmap": no_rtpmap, "data channel only": offer_sdp(True)}
    httpx.post(f"{gpu.url}/api/v1/sessions", json={"sdp": "v=0\nm=foo\n", "type": "offer", "size": 256}, timeout=120)
    before = threads(gpu.process.pid)  # engines loaded by the first offer: their threads are not a leak
    for _ in range(4):
        for name, sdp in offers.items():
            answer = httpx.post(f"{gpu.url}/api/v1/sessions", json={"sdp": sdp, "type": "offer", "size": 256})
            assert answer.status_code == 422, (name, answer.text)
            assert "not a usable WebRTC offer" in answer.json()["detail"], answer.text
    after = settles_to(gpu.process.pid, before + EXECUTOR_SLACK)  # CI: 12 -> 13 once
    assert after <= before + EXECUTOR_SLACK, f"{after - before} threads left by 12 refused offers"
    # Through the runtime: the same refusal, in the same words (not "gpu_service failed (500)").
    env = runtime_env(gpu.url, tmp_path / "gpu", tmp_path / "gpu", tmp_path / "data")
    with run_service("runtime.app:create_app", env, tmp_path) as runtime:
        relayed = httpx.post(f"{runtime.url}/api/v1/sessions", json={"sdp": offers["no rtpmap"], "type": "offer"})
        assert relayed.status_code == 422 and "not a usable WebRTC offer" in relayed.json()["detail"], relayed.text


def test_a_full_gpu_service_passes_its_retry_after_through_the_runtime(tmp_path: Path) -> None:
    """Before: the runtime's 503 had no Retry-After, though the gpu_service sent one."""
    with run_service(
        "gpu_service.app:create_app", {"GPU_OUTPUT_ROOT": str(tmp_path / "gpu"), "GPU_SESSIONS__MAX": "0"}, tmp_path
    ) as full:
        env = runtime_env(full.url, tmp_path / "gpu", tmp_path / "gpu", tmp_path / "data")
        with run_service("runtime.app:create_app", env, tmp_path) as runtime:
            answer = httpx.post(f"{runtime.url}/api/v1/sessions", json={"sdp": offer_sdp(), "type": "offer"})
    assert answer.status_code == 503, answer.text
    assert answer.headers.get("retry-after") == "30" and "GPU_SESSIONS__MAX" in answer.json()["detail"]


def test_one_key_cannot_hold_every_live_slot(gpu: RunningService, tmp_path: Path) -> None:
    """Before: key one's offers that never connect held every slot (30 s each) and key two got 503."""
    keys = {"RUNTIME_API_KEYS": json.dumps(["one", "two"]), "RUNTIME_LIVE_SESSIONS_PER_KEY": "2"}
    env = runtime_env(gpu.url, tmp_path / "gpu", tmp_path / "gpu", tmp_path / "data", **keys)
    one, two = {"X-API-Key": "one"}, {"X-API-Key": "two"}
    before = threads(gpu.process.pid)
    with run_service("runtime.app:create_app", env, tmp_path) as runtime:
        url = f"{runtime.url}/api/v1/sessions"

        def offer(key: dict[str, str]) -> httpx.Response:
            return httpx.post(url, json={"sdp": offer_sdp(), "type": "offer"}, headers=key, timeout=120)

        held = [offer(one), offer(one)]
        assert [answer.status_code for answer in held] == [201, 201], [answer.text for answer in held]
        third = offer(one)
        assert third.status_code == 429 and "RUNTIME_LIVE_SESSIONS_PER_KEY" in third.json()["detail"], third.text
        assert int(third.headers["retry-after"]) > 0
        assert offer(two).status_code == 201  # the other key still gets a place
        # Offers never answered are dropped after GPU_SESSIONS__CONNECT_TIMEOUT_S; their places come back.
        deadline = time.monotonic() + 20
        while (again := offer(one)).status_code == 429 and time.monotonic() < deadline:
            time.sleep(1)
        assert again.status_code == 201, again.text
    # Four sessions were made and dropped: a leak of one thread each is +4 (CI: 12 -> 13, the executor's worker).
    after = settles_to(gpu.process.pid, before + EXECUTOR_SLACK, within_s=20)
    assert after <= before + EXECUTOR_SLACK, f"sessions never connected left threads: {before} -> {after}"


async def _speak_and_leave(url: str, audio: np.ndarray, rate: int) -> None:
    microphone = Microphone()
    peer = await connect(url, microphone=microphone, size=128, pictures=False)
    microphone.speak(audio, rate)
    await asyncio.sleep(2.5)  # heard, and its turn waiting for the rest ("... leisure to-")
    async with httpx.AsyncClient() as client:
        await client.delete(f"{url}/api/v1/sessions/{peer.session_id}")
    await peer.pc.close()


@pytest.mark.deep  # a soak: make test-deep
def test_sessions_that_heard_a_microphone_leave_no_threads_behind(gpu: RunningService) -> None:
    """Before: each session's listener kept PyAV's resampler (a filter graph with a thread per core) until the
    garbage collector's rare full pass reached it: +1 thread per ended session (80 sessions: 28 -> 88 threads)."""
    audio, rate = load_audio(DEFAULT_ASSETS / "voices" / "librivox_en_reader.wav")
    audio = audio[: 2 * rate]
    # What the first sessions start is not a leak: the language model (it loads in the background; a slower machine
    # saw its threads start in the middle of the count), Whisper, the VAD, asyncio's default executor (up to
    # cores + 4 workers, which sessions one right after another reach in a few).
    # The executor may still grow in the first counted batch on a busy machine, once (fresh clone: 24 -> 27 threads
    # after a full deep run had used the service); a leak grows in every batch, so the second must stay flat.
    wait_for_language_model(gpu.url)
    for _ in range(3):
        run_session(_speak_and_leave(gpu.url, audio, rate))
    counts = [threads(gpu.process.pid)]
    for _ in range(2):
        for _ in range(5):
            run_session(_speak_and_leave(gpu.url, audio, rate))
        counts.append(settles_to(gpu.process.pid, counts[-1] + EXECUTOR_SLACK, within_s=20))
    before, first, second = counts
    assert first <= before + EXECUTOR_WORKERS, f"{first - before} threads left by 5 sessions that heard a microphone"
    assert second <= first + EXECUTOR_SLACK, f"{second - first} threads left by 5 more sessions ({counts})"


@pytest.mark.deep  # a service killed or restarted: make test-deep
def test_a_restarted_runtime_keeps_its_live_sessions(gpu: RunningService, tmp_path: Path) -> None:
    """Before: after a runtime restart the session went on in the gpu_service but its owner got 404, and turns
    said after the restart never reached the conversation."""
    run_session(_warm_up(gpu.url))  # engines loaded for this portrait and size keep their own files open
    before = descriptors(gpu.process.pid)
    run_session(_across_a_restart(gpu.url, tmp_path))
    deadline = time.monotonic() + 20
    while (after := descriptors(gpu.process.pid)) > before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert after <= before, f"the ended session left {after - before} descriptors open (its sockets)"


async def _warm_up(url: str) -> None:
    peer = await connect(url, size=512)
    peer.send(type="chat", text="Hello.")
    await peer.wait_event("done", timeout_s=120)
    await peer.pc.close()


async def _across_a_restart(gpu_url: str, tmp_path: Path) -> None:
    env = runtime_env(gpu_url, tmp_path / "gpu", tmp_path / "gpu", tmp_path / "data")
    with contextlib.ExitStack() as first:
        runtime = await asyncio.to_thread(first.enter_context, run_service("runtime.app:create_app", env, tmp_path))
        peer = await connect(runtime.url)
        peer.send(type="chat", text="What is your name?")
        await peer.wait_event("done", timeout_s=120)
        await asyncio.sleep(2.5)  # copied into the conversation by the first runtime
        await asyncio.to_thread(first.close)  # the runtime stops; the session goes on in the gpu_service
    with contextlib.ExitStack() as second:
        runtime = await asyncio.to_thread(second.enter_context, run_service("runtime.app:create_app", env, tmp_path))
        async with httpx.AsyncClient(base_url=runtime.url, timeout=30) as client:
            info = await client.get(f"/api/v1/sessions/{peer.session_id}")
            assert info.status_code == 200 and info.json()["state"] == "connected", info.text
            peer.send(type="chat", text="Where do you live?")
            await peer.wait_event("done", timeout_s=60)
            conversation_id = peer.answer["conversation_id"]
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:  # copied every couple of seconds by the new runtime
                said = (await client.get(f"/api/v1/conversations/{conversation_id}")).json()["messages"]
                if len(said) == 4:
                    break
                await asyncio.sleep(0.5)
            assert [(m["role"], m["text"]) for m in said][::2] == [
                ("user", "What is your name?"),
                ("user", "Where do you live?"),
            ], said
            assert len(said) == 4, said
            assert (await client.delete(f"/api/v1/sessions/{peer.session_id}")).status_code == 204
    await peer.pc.close()


@pytest.mark.deep  # a service killed or restarted: make test-deep
def test_the_gpu_service_gone_is_a_503_in_words_said_once_in_the_log(tmp_path: Path) -> None:
    """Before: GET and DELETE of a live session answered a plain-text 500 while the gpu_service was down, and the
    runtime logged a warning every ~2.8 s for each session meanwhile."""
    logs = tmp_path / "logs"
    logs.mkdir()
    gpu_env = {"GPU_OUTPUT_ROOT": str(tmp_path / "gpu")}
    with contextlib.ExitStack() as gpu_stack:
        gpu = gpu_stack.enter_context(run_service("gpu_service.app:create_app", gpu_env, tmp_path))
        env = runtime_env(gpu.url, tmp_path / "gpu", tmp_path / "gpu", tmp_path / "data", RUNTIME_FALLBACK="off")
        with run_service("runtime.app:create_app", env, logs) as runtime:
            url = f"{runtime.url}/api/v1/sessions"
            opened = httpx.post(url, json={"sdp": offer_sdp(), "type": "offer"}, timeout=120)
            assert opened.status_code == 201, opened.text
            session = opened.json()["id"]
            gpu_stack.close()  # the gpu_service goes away
            for method in ("GET", "DELETE"):
                answer = httpx.request(method, f"{url}/{session}")
                assert answer.status_code == 503, (method, answer.text)
                assert "gpu_service" in answer.json()["detail"] and answer.headers["retry-after"]
            time.sleep(5)  # two or three attempts to follow the session's turns fail meanwhile
    log = "".join(path.read_text() for path in logs.glob("*"))
    warnings = re.findall(r"turns not stored", log)
    assert len(warnings) == 1, f"{len(warnings)} warnings in 5 s"


def test_media_stays_on_the_address_the_service_listens_on_and_commands_are_bounded(gpu: RunningService) -> None:
    """Before: a gpu_service on 127.0.0.1 gathered candidates (and opened UDP ports) on every interface; 500 say
    commands queued 30 minutes of speech."""
    run_session(_bounded_session(gpu.url))


async def _bounded_session(url: str) -> None:
    peer = await connect(url, size=256)
    candidates = re.findall(r"a=candidate:\S+ \d+ udp \d+ (\S+) ", peer.answer["sdp"])
    assert candidates and set(candidates) == {"127.0.0.1"}, candidates
    await asyncio.sleep(1.0)
    assert len(peer.video) >= 10  # connected over loopback alone
    for number in range(12):
        peer.send(type="say", text=f"Message number {number}, said at length so that it takes a while.")
    await asyncio.sleep(1.0)
    refused = [event for event in peer.events if event["type"] == "error"]
    assert refused and all("GPU_SESSIONS__MAX_QUEUED" in event["detail"] for event in refused), peer.events
    assert len(refused) >= 12 - 4 - 2, refused  # at most the limit waits (and the one being said, and one starting)
    peer.send(type="interrupt")
    await peer.pc.close()


@pytest.mark.deep  # a soak: make test-deep
def test_the_fallback_gives_its_memory_back_when_idle(tmp_path: Path) -> None:
    """Before: the in-process fallback took the runtime from 192 MB to 2.07 GB and kept it for good."""
    env = {
        "RUNTIME_GPU_SERVICE_URL": "http://127.0.0.1:9",  # nothing listens: the fallback answers
        "RUNTIME_DATA_DIR": str(tmp_path / "data"),
        "RUNTIME_FALLBACK": "local",
        "RUNTIME_FALLBACK_IDLE_S": "3",
    }
    with run_service("runtime.app:create_app", env, tmp_path) as runtime:
        before = tree_resident_mb(runtime.process.pid)
        url = f"{runtime.url}/api/v1/generate"
        made = httpx.post(url, json={"text": "From the local engines.", "language": "en"}, timeout=300)
        assert made.status_code == 200 and made.json()["fallback"] is True, made.text
        working = tree_resident_mb(runtime.process.pid)
        assert working > before + 150, f"{working:.0f} MB: the engines did not load?"
        deadline = time.monotonic() + 20
        while (idle := tree_resident_mb(runtime.process.pid)) > before + 50 and time.monotonic() < deadline:
            time.sleep(0.5)
        print(f"fallback: {before:.0f} MB before, {working:.0f} MB working, {idle:.0f} MB once idle")
        assert idle < before + 50, f"{idle:.0f} MB once idle (before: {before:.0f} MB)"
        again = httpx.post(url, json={"text": "Again, once released.", "language": "en"}, timeout=300)
        assert again.status_code == 200 and again.json()["fallback"] is True, again.text
