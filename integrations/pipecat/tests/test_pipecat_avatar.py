"""The Pipecat processor in a real Pipeline run by Pipecat's own task runner, against a real Realtime Avatar
service (AVATAR_STREAM_URL; the main test suite starts one and runs these in this package's own environment). The
TTS is stood in for by its frames, read from a recording: no TTS service is needed to test what comes after it."""

from __future__ import annotations

import asyncio
import os
import time
import wave
from pathlib import Path

import numpy as np
import pytest
from pipecat.frames.frames import (
    EndFrame,
    Frame,
    InterruptionFrame,
    OutputImageRawFrame,
    TTSAudioRawFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineWorker
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.workers.runner import WorkerRunner

from realtime_avatar_pipecat import RealtimeAvatarVideo

URL = os.environ.get("AVATAR_STREAM_URL", "")
READER = Path(__file__).resolve().parents[3] / "assets" / "voices" / "librivox_en_reader.wav"
FPS = 25
pytestmark = pytest.mark.skipif(not URL, reason="AVATAR_STREAM_URL names no running service")


def tts_frames(seconds: float) -> list[Frame]:
    """What a TTS service emits for one utterance: started, 20 ms audio chunks at 16 kHz, stopped."""
    with wave.open(str(READER)) as recording:
        rate = recording.getframerate()
        audio = recording.readframes(int(seconds * rate))
    step = 2 * rate // 50
    chunks: list[Frame] = [TTSAudioRawFrame(audio[i : i + step], rate, 1) for i in range(0, len(audio), step)]
    return [TTSStartedFrame(), *chunks, TTSStoppedFrame()]


class Collector(FrameProcessor):
    """The end of the pipeline: what reaches the output transport, with when it came."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[float, Frame]] = []

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        self.seen.append((time.monotonic(), frame))
        await self.push_frame(frame, direction)

    def images(self) -> list[tuple[float, OutputImageRawFrame]]:
        return [(at, frame) for at, frame in self.seen if isinstance(frame, OutputImageRawFrame)]


async def run(collector: Collector, script: object) -> None:
    avatar = RealtimeAvatarVideo(URL, size=128, fps=FPS, sample_rate=16000)
    worker = PipelineWorker(Pipeline([avatar, collector]))
    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)

    async def drive() -> None:
        await script(worker)  # type: ignore[operator]
        await worker.queue_frame(EndFrame())

    await asyncio.gather(runner.run(), drive())


async def wait_for(condition: object, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


def test_tts_audio_in_gives_images_at_the_fps_asked_each_with_its_own_audio() -> None:
    collector = Collector()

    async def script(task: PipelineWorker) -> None:
        await wait_for(lambda: len(collector.images()) >= 30, 20)  # idle first: ~1.2 s of the face
        await task.queue_frames(tts_frames(2.0))
        await wait_for(lambda: sum(isinstance(f, TTSStoppedFrame) for _, f in collector.seen), 20)
        await wait_for(lambda: sum(f.sync_with_audio for _, f in collector.images()) >= 50, 20)

    asyncio.run(run(collector, script))
    idle = [at for at, image in collector.images() if not image.sync_with_audio][:30]
    rate = (len(idle) - 1) / (idle[-1] - idle[0])
    assert FPS * 0.85 <= rate <= FPS * 1.15, rate  # idle images in real time
    assert all(image.size == (128, 128) and image.format == "RGB" for _, image in collector.images())
    frames = [frame for _, frame in collector.seen]
    spoken = [i for i, frame in enumerate(frames) if isinstance(frame, OutputImageRawFrame) and frame.sync_with_audio]
    # Each speaking image is followed by exactly the audio it shows, and the audio is the TTS's, whole.
    assert all(isinstance(frames[i + 1], TTSAudioRawFrame) for i in spoken)
    sounds = [frames[i + 1] for i in spoken]
    assert all(len(s.audio) == 2 * 16000 // FPS for s in sounds)
    heard = np.frombuffer(b"".join(s.audio for s in sounds), np.int16)
    assert abs(len(heard) - 2.0 * 16000) <= 16000 // FPS, len(heard)
    assert np.abs(heard).max() > 3000


def test_an_interruption_stops_the_speech_within_a_frame() -> None:
    collector = Collector()
    interrupted_at: list[int] = []

    async def script(task: PipelineWorker) -> None:
        await wait_for(lambda: len(collector.images()) >= 5, 20)
        await task.queue_frames(tts_frames(4.0)[:-1])  # a long utterance, still being said
        await wait_for(lambda: sum(f.sync_with_audio for _, f in collector.images()) >= 10, 20)
        await task.queue_frame(InterruptionFrame())
        await wait_for(lambda: any(isinstance(f, InterruptionFrame) for _, f in collector.seen), 5)
        interrupted_at.append(len(collector.seen))
        await asyncio.sleep(1.0)  # the face idles meanwhile

    asyncio.run(run(collector, script))
    after = [frame for _, frame in collector.seen[interrupted_at[0] :]]
    assert sum(isinstance(frame, TTSAudioRawFrame) for frame in after) <= 1  # at most the one in flight
    assert sum(isinstance(frame, OutputImageRawFrame) and not frame.sync_with_audio for frame in after) >= 15
    spoken = sum(isinstance(frame, TTSAudioRawFrame) for _, frame in collector.seen)
    assert spoken < 4.0 * FPS - 10  # what was not yet shown was dropped
