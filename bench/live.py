"""Live sessions (WebRTC, embedded engines, 512 px at 25 fps, VP8): a session held for 60 s (frames and audio
received), a data-channel message to the reply's first audio, the end of a spoken question to the reply's first
audio, the audio/video offset as received, and how many sessions at once keep 24 fps on this machine."""

from __future__ import annotations

import asyncio
import itertools
import os
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from common.audio import load_audio
from common.launch import run_service
from gpu_service.config import DEFAULT_ASSETS
from tests.live_client import Microphone, Peer, connect, run_session

HOLD_S = 60
CONCURRENT = (2, 4, 6)
LOUD = 0.05  # a sample this loud is speech, not silence
QUESTION = DEFAULT_ASSETS / "voices" / "librivox_en_reader.wav"


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def first_loud(peer: Peer, after: float) -> float | None:
    for at, samples in peer.audio:
        if at >= after and np.abs(samples.astype(np.float32) / 32768).max() > LOUD:
            return at
    return None


def first_mouth_move(peer: Peer, after: float) -> float | None:
    """Arrival of the first frame whose mouth region changes much more than it did while idle."""
    frames = [(at, frame[300:400, 200:312].astype(np.float32).mean(axis=2)) for at, frame in peer.video]
    changes = [(at, float(np.abs(b - a).mean())) for (_, a), (at, b) in itertools.pairwise(frames)]
    idle = statistics.median(change for at, change in changes if at < after) or 0.1
    return next((at for at, change in changes if at >= after and change > 4 * idle), None)


async def hold(url: str) -> list[str]:
    microphone = Microphone()
    peer = await connect(url, microphone=microphone, language="en")
    await asyncio.sleep(3)
    start = time.monotonic()
    await asyncio.sleep(7)
    said = time.monotonic()
    peer.send(type="say", text="Hello there! It is a lovely day for a walk in the park.")
    await peer.wait_event("done")
    await asyncio.sleep(8)
    question, rate = load_audio(QUESTION)
    question = question[: 3 * rate]
    asked = time.monotonic()
    microphone.speak(question, rate)
    ended = asked + len(question) / rate
    await peer.wait_event("heard", timeout_s=30)
    await peer.wait_event("done", timeout_s=120)
    await asyncio.sleep(max(0.0, start + HOLD_S - time.monotonic()))
    end = time.monotonic()
    video = sum(1 for at, _ in peer.video if start <= at < end)
    audio = sum(len(samples) for at, samples in peer.audio if start <= at < end)
    arrivals = [at for at, _ in peer.audio if start <= at < end]
    worst_gap = max(b - a for a, b in itertools.pairwise(arrivals))
    heard_audio, moved = first_loud(peer, said), first_mouth_move(peer, said)
    reply_audio = first_loud(peer, ended + 0.3)  # after the question's own echo-free end
    await peer.pc.close()
    seconds = end - start
    offset = f"{(moved - heard_audio) * 1000:+.0f} ms" if moved and heard_audio else "not measured"
    return [
        f"one session held {seconds:.0f} s: {video / seconds:.1f} video frames/s received (target >= 24 of 25), "
        f"audio {audio / 48_000 / seconds * 100:.1f} % of real time, longest gap between audio packets "
        f"{worst_gap * 1000:.0f} ms",
        f"data-channel 'say' -> first audible reply sample received: {(heard_audio - said) * 1000:.0f} ms "
        "(target <= 1000)"
        if heard_audio
        else "say: no audio received",
        f"mouth starts moving vs first audible sample, as received: {offset} (target within one frame, 40 ms)",
        f"end of a 3 s spoken question -> first audible reply sample: {(reply_audio - ended) * 1000:.0f} ms "
        "(target <= 1500; includes the 0.5 s of silence that ends an utterance)"
        if reply_audio
        else "no spoken reply",
    ]


async def concurrent(url: str, pid: int, count: int) -> str:
    peers = [await connect(url, language="en") for _ in range(count)]
    await asyncio.sleep(2)
    start, cpu = time.monotonic(), cpu_seconds(pid)
    await asyncio.sleep(10)
    end, used = time.monotonic(), cpu_seconds(pid) - cpu
    rates = [sum(1 for at, _ in peer.video if start <= at < end) / (end - start) for peer in peers]
    for peer in peers:
        await peer.pc.close()
    await asyncio.sleep(2)
    return (
        f"{count} sessions at once: slowest {min(rates):.1f} frames/s, mean {statistics.mean(rates):.1f}; "
        f"the service used {used / (end - start) * 100:.0f} % of one core"
    )


def run() -> list[str]:
    scratch = Path(tempfile.mkdtemp(prefix="bench-live-"))
    env = {"GPU_OUTPUT_ROOT": str(scratch / "out"), "GPU_SESSIONS__MAX": str(max(CONCURRENT))}
    lines = ["Live sessions (WebRTC over loopback, aiortc client, embedded engines, 512 px, 25 fps, VP8)"]
    with run_service("gpu_service.app:create_app", env, scratch) as service:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:  # the language model loads in the background at start
            engines = httpx.get(f"{service.url}/health").json()["engines"]
            if any(engine["kind"] == "llm" and engine["default"] and engine["state"] == "ready" for engine in engines):
                break
            time.sleep(1)
        lines += run_session(hold(service.url))
        for count in CONCURRENT:
            lines.append(run_session(concurrent(service.url, service.process.pid, count)))
    return lines
