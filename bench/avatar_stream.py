"""The audio-in avatar stream (WS /api/v1/avatar/stream, embedded animator, 512 px, 25 fps, raw frames): audio ->
first frame of speech, steady lag, clear -> idle, lip sync on recordings it never saw, streams at once at 25 fps."""

from __future__ import annotations

import asyncio
import io
import statistics
import tempfile
import time
from pathlib import Path

import av
import cv2
import numpy as np

from client.avatar_stream import AvatarStreamClient
from common.media.audio import load_audio
from common.process.launch import run_service
from contracts.avatar_stream import StreamEvent, StreamFrame, StreamStart
from evaluator.metrics.face_tracks import track_faces
from evaluator.metrics.lipsync import lip_sync, loudness_per_frame

VOICES = Path(__file__).resolve().parent.parent / "assets" / "voices"
RECORDINGS = ["librivox_en_reader", "synthetic_en_female", "synthetic_zh_female", "synthetic_es_male"]
RATE, FPS, CHUNK_S = 16000, 25, 0.02
RUNS = 10


def pcm16(samples: np.ndarray) -> bytes:
    return (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()


def rgb(frame: StreamFrame) -> np.ndarray:
    planes = np.frombuffer(frame.i420, np.uint8).reshape(frame.height * 3 // 2, frame.width)
    return np.asarray(cv2.cvtColor(planes, cv2.COLOR_YUV2RGB_I420))


def median_p95(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"median {statistics.median(ordered):.0f} ms, p95 {p95:.0f} ms"


async def timed_utterance(url: str, speech: np.ndarray, size: int = 512) -> tuple[float, list[float]]:
    """Audio sent in 20 ms chunks at real time: (first speech frame - first 40 ms sent, in ms), and each speech
    frame's lag behind the moment its audio had all been sent (ms)."""
    start = StreamStart(type="start", size=size, sample_rate=RATE, output="frames")
    async with AvatarStreamClient.connect(url, start) as client:
        arrivals: dict[int, float] = {}
        first_pts: list[int] = []

        async def read() -> None:
            async for item in client:
                if isinstance(item, StreamEvent) and item.type == "speaking" and item.frame is not None:
                    first_pts.append(item.frame)
                elif isinstance(item, StreamFrame) and item.speaking:
                    arrivals.setdefault(item.pts, time.monotonic())

        reader = asyncio.create_task(read())
        await asyncio.sleep(0.5)
        chunk = round(CHUNK_S * RATE)
        sent_at: list[float] = []  # when sample i * chunk had been sent
        began = time.monotonic()
        for offset in range(0, len(speech), chunk):
            await client.push_audio(pcm16(speech[offset : offset + chunk]))
            sent_at.append(time.monotonic())
            await asyncio.sleep(max(0.0, began + (offset + chunk) / RATE - time.monotonic()))
        await client.close()
        await asyncio.wait_for(reader, 30)
    per_frame = RATE // FPS
    first = first_pts[0]
    lags = []
    for pts, at in arrivals.items():
        last_sample = (pts - first + 1) * per_frame - 1
        index = last_sample // chunk
        if index < len(sent_at) - 1:  # the flush at the end waits for no more audio: left out
            lags.append((at - sent_at[index]) * 1000)
    first_ms = (arrivals[first] - sent_at[1]) * 1000  # chunk 1 completes the first 40 ms
    return first_ms, lags


async def clear_latency(url: str, speech: np.ndarray) -> float:
    start = StreamStart(type="start", size=512, sample_rate=RATE, output="frames")
    async with AvatarStreamClient.connect(url, start) as client:
        await client.push_audio(pcm16(speech))
        async for item in client:
            if isinstance(item, StreamFrame) and item.speaking:
                break
        asked = time.monotonic()
        await client.clear()
        async for item in client:
            if isinstance(item, StreamFrame) and not item.speaking:
                return (time.monotonic() - asked) * 1000
    raise AssertionError("no idle frame after clear")


async def lips(url: str, name: str) -> str:
    speech, _ = load_audio(VOICES / f"{name}.wav", RATE)
    start = StreamStart(type="start", size=512, sample_rate=RATE, output="frames")
    async with AvatarStreamClient.connect(url, start) as client:
        frames: list[StreamFrame] = []

        async def read() -> None:
            async for item in client:
                if isinstance(item, StreamFrame) and item.speaking:
                    frames.append(item)

        reader = asyncio.create_task(read())
        await client.push_recording(pcm16(speech), real_time=False)
        await client.close()
        await asyncio.wait_for(reader, 120)
    images = [rgb(frame) for frame in frames]
    sync = lip_sync(track_faces(images).mouth_open, loudness_per_frame(speech, RATE, FPS, len(images)), FPS)
    return f"{name} r {sync.correlation:.2f} at {sync.offset_ms:+.0f} ms (at 0: {sync.by_lag_ms[0.0]:.2f})"


async def at_once(url: str, count: int, speakers: int, speech: np.ndarray) -> list[float]:
    """`count` streams (the first `speakers` of them speaking the recording at real time, the others idle) as
    fMP4, so that the client on the same two cores does not read raw video: each stream's frames per second, from
    its first byte to its last."""
    start = StreamStart(type="start", size=512, sample_rate=RATE, output="fmp4")
    rates: list[float] = []

    async def one(speaks: bool) -> None:
        async with AvatarStreamClient.connect(url, start) as client:
            pieces: list[tuple[float, bytes]] = []

            async def read() -> None:
                async for item in client:
                    if isinstance(item, bytes):
                        pieces.append((time.monotonic(), item))

            reader = asyncio.create_task(read())
            if speaks:
                await client.push_recording(pcm16(speech), real_time=True)
            else:
                await asyncio.sleep(len(speech) / RATE)
            await client.close()
            await asyncio.wait_for(reader, 120)
        with av.open(io.BytesIO(b"".join(piece for _, piece in pieces)), mode="r") as container:
            frames = len(list(container.decode(video=0)))
        rates.append(frames / (pieces[-1][0] - pieces[0][0]))

    await asyncio.gather(*(one(index < speakers) for index in range(count)))
    return sorted(rates)


async def measure(url: str) -> list[str]:
    speech, _ = load_audio(VOICES / "librivox_en_reader.wav", RATE, 3.0)
    lines = []
    firsts, lags = [], []
    for _ in range(RUNS):
        first, frame_lags = await timed_utterance(url, speech)
        firsts.append(first)
        lags.extend(frame_lags)
    lines.append(f"  first 40 ms of audio sent -> first frame of speech received: {median_p95(firsts)} ({RUNS} runs)")
    lines.append(
        f"  steady lag (a frame's audio all sent -> the frame received): {median_p95(lags)}, "
        f"{statistics.median(lags) * FPS / 1000:.1f} frames median ({len(lags)} frames)"
    )
    clears = [await clear_latency(url, speech) for _ in range(RUNS)]
    lines.append(f"  clear sent -> first idle frame received: {median_p95(clears)}")
    for name in RECORDINGS:
        lines.append(f"  lip sync (evaluator's judge, whole recording): {await lips(url, name)}")
    for count, speakers in ((4, 4), (6, 1), (6, 6), (8, 1)):
        rates = await at_once(url, count, speakers, speech)
        lines.append(
            f"  {count} streams at once, {speakers} speaking (fMP4): slowest {rates[0]:.1f} frames/s, "
            f"mean {statistics.mean(rates):.1f}"
        )
    return lines


def run() -> list[str]:
    lines = ["Audio-in avatar stream (WS, embedded animator, 512 px, 25 fps, raw frames, client on the same 2 cores)"]
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        env = {"GPU_OUTPUT_ROOT": str(root / "out"), "GPU_SESSIONS__MAX": "12"}
        with run_service("gpu_service.app:create_app", env, root) as service:
            lines += asyncio.run(measure(service.url))
    return lines


if __name__ == "__main__":
    print("\n".join(run()))
