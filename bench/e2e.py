"""End to end through the runtime (over loopback, embedded engines, voice matching on):
- time to the first playable fragment of a streamed /generate, as the client receives it;
- whole-clip /generate RTF for a ~10 s, four-sentence text, streamed and not, beside the floor (the still photo
  encoded with the same audio into the same MP4 format);
- throughput with 1 and 4 clients."""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from common.media.audio import load_audio
from common.media.mp4_boxes import BoxReader
from common.media.remux import remux_faststart
from contracts.runtime import GenerateResult
from gpu_service.assets import AssetReference
from gpu_service.config import DEFAULT_ASSETS
from gpu_service.engines.avatar.face import FaceAnalyzer
from gpu_service.media.fmp4 import FragmentedMp4Writer
from gpu_service.media.frames import AudioFramer
from harness.stack import local_stack

FOUR_SENTENCES = (
    "Good evening, and welcome to the program. Tonight we look at how people learn new languages. "
    "Why do some of us find it so easy? Anybody can practice a little bit, every single day."
)
FIRST_SENTENCE_TEXT = "Thanks for calling us today. " + FOUR_SENTENCES  # first sentence ~1.5 s of speech
SHORT_TEXT = "Thank you for calling. How can I help you today?"
REPEATS = 3
REQUESTS = 8


async def _generate(client: httpx.AsyncClient, url: str, text: str) -> GenerateResult:
    response = await client.post(f"{url}/api/v1/generate", json={"text": text, "language": "en"}, timeout=900)
    response.raise_for_status()
    return GenerateResult.model_validate(response.json())


def stream_timings(url: str, text: str) -> tuple[float, float]:
    """Seconds from the request to the first complete fragment, and to the end of the stream."""
    reader, first = BoxReader(), 0.0
    started = time.perf_counter()
    body = {"text": text, "language": "en", "stream": True}
    with httpx.stream("POST", f"{url}/api/v1/generate", json=body, timeout=900) as response:
        response.raise_for_status()
        for chunk in response.iter_bytes():
            if not first and any(box.kind == "mdat" for box in reader.feed(chunk)):
                first = time.perf_counter() - started
    return first, time.perf_counter() - started


async def _throughput(url: str, clients: int) -> float:
    """Clips per minute when `clients` send REQUESTS requests between them, each waiting for its answer."""
    async with httpx.AsyncClient() as client:

        async def one_client(count: int) -> None:
            for _ in range(count):
                await _generate(client, url, SHORT_TEXT)

        tick = time.perf_counter()
        await asyncio.gather(*(one_client(REQUESTS // clients) for _ in range(clients)))
        return REQUESTS / (time.perf_counter() - tick) * 60


def floor(video: Path, scratch: Path) -> float:
    """RTF of making the same MP4 from a still photo and the same audio: the writer and remux, nothing else."""
    audio, rate = load_audio(video)
    still = (
        FaceAnalyzer(scratch)
        .analyze(AssetReference("astronaut", DEFAULT_ASSETS / "images" / "astronaut.png"), 512)
        .image
    )
    tick = time.perf_counter()
    framer = AudioFramer(rate, 25)
    framed = framer.take(audio)
    writer = FragmentedMp4Writer(25, 512, rate)
    with (scratch / "floor.fmp4").open("wb") as sink:
        for index in range(framed.frames):
            sink.write(writer.write(still, framed.frame_audio(index), segment_start=index == 0))
        sink.write(writer.close())
    remux_faststart(scratch / "floor.fmp4", scratch / "floor.mp4")
    return (time.perf_counter() - tick) / (len(audio) / rate)


def run() -> list[str]:
    scratch = Path(tempfile.mkdtemp(prefix="bench-e2e-"))
    gpu_root, data_dir = scratch / "gpu", scratch / "runtime"
    unlimited = {"RUNTIME_RATE_LIMIT_PER_MINUTE": "0"}  # the throughput runs are deliberate bursts
    with local_stack(gpu_root, data_dir, scratch, runtime_env=unlimited) as (_, runtime):

        async def batch() -> tuple[list[GenerateResult], float, float]:
            async with httpx.AsyncClient() as client:
                results = [await _generate(client, runtime.url, FOUR_SENTENCES) for _ in range(REPEATS)]
            return results, await _throughput(runtime.url, 1), await _throughput(runtime.url, 4)

        stream_timings(runtime.url, "Warm up: fit the voice, analyse the face.")
        first = statistics.median(stream_timings(runtime.url, FIRST_SENTENCE_TEXT)[0] for _ in range(5))
        four = [stream_timings(runtime.url, FOUR_SENTENCES) for _ in range(REPEATS)]
        results, one_client, four_clients = asyncio.run(batch())

    rtf = statistics.median(result.rtf for result in results)
    streamed_total = statistics.median(total for _, total in four)
    last = results[-1]
    floor_rtf = floor(data_dir / "videos" / f"{last.video_id}.mp4", scratch)
    return [
        "End to end (runtime -> gpu_service over loopback, embedded engines, voice matching on)",
        f"streamed /generate: first playable fragment after {first * 1000:.0f} ms (median of 5, first sentence "
        f"~1.5 s of speech; target <= 500 ms); whole stream RTF {streamed_total / last.duration_s:.3f}",
        f"streamed /generate whose first sentence has a clause voiced on its own ('Good evening,'): first playable "
        f"fragment after {statistics.median(first for first, _ in four) * 1000:.0f} ms (median of {REPEATS})",
        f"/generate RTF for a {last.duration_s:.1f} s, four-sentence clip: {rtf:.3f} (median of {REPEATS}; "
        f"target <= 0.10); tts {last.timings.tts_s:.2f} s and render {last.timings.render_s:.2f} s overlapped "
        f"in total {last.timings.total_s:.2f} s: {last.timings.total_s / last.timings.tts_s:.2f}x the synthesis alone "
        "(target <= 1.1x)",
        f"floor (still photo + same audio -> the same fragmented MP4, remuxed): RTF {floor_rtf:.3f}; "
        f"generate / floor = {rtf / floor_rtf:.1f}x (target <= 2x)",
        f"throughput ({REQUESTS} short clips): 1 client {one_client:.1f} clips/min, 4 clients {four_clients:.1f} "
        f"clips/min ({four_clients / one_client:.2f}x)",
    ]
