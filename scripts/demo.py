"""`make demo`: start the gpu_service and the runtime on loopback, generate a video per language through
POST /api/v1/generate (as curl would), then ask the avatar a question in a conversation, then give it someone
else's voice over the audio-in stream (as a voice agent would); print where the videos are and how long each step
took, stop both.

Runs entirely on the embedded engines (Kokoro-82M speech, the landmark animator, SmolLM2), offline.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from client.avatar_stream import AvatarStreamClient
from common.media.audio import load_audio
from contracts.avatar_stream import StreamEvent, StreamStart
from contracts.runtime import GenerateResult, ReplyResult
from gpu_service.config import Settings as GpuSettings
from harness.stack import local_stack
from runtime.config import Settings as RuntimeSettings

SENTENCES = {
    "en": "Hello! I am your realtime avatar. I can speak English, Chinese and Spanish.",
    "zh": "你好！我是你的实时虚拟形象，现在我在说中文。",
    "es": "¡Hola! Soy tu avatar en tiempo real y ahora estoy hablando en español.",
}


def main() -> int:
    gpu_root = GpuSettings().output_root
    data_dir = RuntimeSettings().data_dir
    logs = Path(tempfile.mkdtemp(prefix="avatar-demo-logs-"))
    print(f"starting gpu_service and runtime on loopback (logs in {logs}) ...")
    with local_stack(gpu_root, data_dir, logs) as (gpu, runtime):
        print(f"gpu_service {gpu.url}, runtime {runtime.url}\n")
        for language, text in SENTENCES.items():
            body = {"text": text, "language": "auto"}
            response = httpx.post(f"{runtime.url}/api/v1/generate", json=body, timeout=600)
            if response.status_code != 200:
                print(f"{language}: HTTP {response.status_code}: {response.text}", file=sys.stderr)
                return 1
            result = GenerateResult.model_validate(response.json())
            timings = result.timings
            print(f"{result.language} (detected from the text): {data_dir / 'videos' / (result.video_id + '.mp4')}")
            print(
                f"    {result.duration_s:.2f} s video in {timings.total_s:.2f} s "
                f"(speech {timings.tts_s:.2f} s, face {timings.render_s:.2f} s; RTF {result.rtf:.2f}); "
                f"voice {result.voice}, portrait {result.portrait}, speech by {result.engines.tts}"
            )
        if not chat(runtime.url, data_dir):
            return 1
        asyncio.run(your_audio(runtime.url, data_dir / "demo" / "your-audio.mp4"))
    print("\ndone; both services are stopped. Play the files above with any video player.")
    return 0


QUESTION = "Hello! Who are you, and what can you do?"


def chat(url: str, data_dir: Path) -> bool:
    """One question in a new conversation: the embedded model writes the reply, the avatar says it."""
    conversation = httpx.post(f"{url}/api/v1/conversations", json={}, timeout=30).json()
    print(f"\nconversation with {conversation['persona']['name']}: you ask {QUESTION!r}")
    response = httpx.post(
        f"{url}/api/v1/conversations/{conversation['id']}/messages", json={"text": QUESTION}, timeout=600
    )
    if response.status_code != 200:
        print(f"chat: HTTP {response.status_code}: {response.text}", file=sys.stderr)
        return False
    reply = ReplyResult.model_validate(response.json()).reply
    timings = reply.timings
    print(f"    the reply ({reply.llm_engine}, a tiny placeholder model): {reply.text!r}")
    print(f"    video: {data_dir / 'videos' / f'{reply.video_id}.mp4'}")
    if timings is not None and timings.first_fragment_s is not None and timings.total_s is not None:
        print(f"    first video after {timings.first_fragment_s:.2f} s, all of it in {timings.total_s:.2f} s")
    return True


RECORDING = Path(__file__).resolve().parent.parent / "assets" / "voices" / "librivox_en_reader.wav"


async def your_audio(url: str, out: Path) -> None:
    """A person's recording (LibriVox) streamed in real time over WS /api/v1/avatar/stream; the fMP4 kept."""
    samples, _ = load_audio(RECORDING, 16000, 5.0)
    print(f"\nsomeone else's voice: {RECORDING.name} (5 s) streamed to the avatar as a voice agent would")
    start = StreamStart(type="start", sample_rate=16000, output="fmp4")
    pieces: list[bytes] = []
    async with AvatarStreamClient.connect(url, start) as avatar:
        first: list[float] = []

        async def read() -> None:
            async for item in avatar:
                if isinstance(item, bytes):
                    pieces.append(item)
                elif isinstance(item, StreamEvent) and item.type == "speaking":
                    first.append(time.monotonic())

        reader = asyncio.create_task(read())
        began = time.monotonic()
        await avatar.push_recording((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
        await avatar.close()
        await asyncio.wait_for(reader, 60)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(b"".join(pieces))
    print(f"    video: {out}")
    if first:
        print(f"    its first frame of speech {1000 * (first[0] - began):.0f} ms after the first audio was sent")


if __name__ == "__main__":
    raise SystemExit(main())
