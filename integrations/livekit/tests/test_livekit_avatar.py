"""The LiveKit avatar against a real Realtime Avatar service (AVATAR_STREAM_URL; the main test suite starts one and
runs these in this package's own environment). livekit's own audio frames, resampler, AVSynchronizer and
AvatarRunner run for real; the room is the one stand-in: no LiveKit server can run here."""

from __future__ import annotations

import asyncio
import os
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from livekit import rtc
from livekit.agents.voice.avatar import AudioSegmentEnd, AvatarOptions, AvatarRunner, QueueAudioOutput

from contracts.avatar_stream import StreamStart
from realtime_avatar_livekit import RealtimeAvatarVideo

URL = os.environ.get("AVATAR_STREAM_URL", "")
READER = Path(__file__).resolve().parents[3] / "assets" / "voices" / "librivox_en_reader.wav"
pytestmark = pytest.mark.skipif(not URL, reason="AVATAR_STREAM_URL names no running service")


def agent_audio(seconds: float, channels: int = 2) -> list[rtc.AudioFrame]:
    """A person reading, as a TTS plugin would hand it over: 10 ms frames, 16 kHz, here in stereo."""
    with wave.open(str(READER)) as recording:
        rate = recording.getframerate()
        samples = np.frombuffer(recording.readframes(int(seconds * rate)), np.int16)
    step = rate // 100
    interleaved = np.repeat(samples, channels)
    return [
        rtc.AudioFrame(interleaved[i * channels : (i + step) * channels].tobytes(), rate, channels, step)
        for i in range(0, len(samples) - step + 1, step)
    ]


async def collect_until_segment_end(video: RealtimeAvatarVideo, timeout_s: float) -> list[Any]:
    items: list[Any] = []

    async def read() -> None:
        async for item in video:
            items.append(item)
            if isinstance(item, AudioSegmentEnd):
                return

    await asyncio.wait_for(read(), timeout_s)
    return items


def test_livekit_audio_in_gives_frames_and_the_same_audio_back_then_the_segment_end() -> None:
    async def scenario() -> None:
        video = RealtimeAvatarVideo(URL, StreamStart(type="start", size=128, sample_rate=24000))
        await video.connect()
        try:
            for frame in agent_audio(2.0):
                await video.push_audio(frame)
            await video.push_audio(AudioSegmentEnd())
            items = await collect_until_segment_end(video, 30)
        finally:
            await video.aclose()
        pictures = [item for item in items if isinstance(item, rtc.VideoFrame)]
        sounds = [item for item in items if isinstance(item, rtc.AudioFrame)]
        assert pictures and all((p.width, p.height, p.type) == (128, 128, rtc.VideoBufferType.I420) for p in pictures)
        assert all(s.sample_rate == 24000 and s.num_channels == 1 for s in sounds)
        heard = sum(s.samples_per_channel for s in sounds)
        assert abs(heard - 2.0 * 24000) <= 960 * 2, heard  # the same 2 s, resampled 16 -> 24 kHz, within a frame
        assert len(sounds) >= 49  # one audio frame per speaking video frame (25 fps)
        loud = np.abs(np.frombuffer(b"".join(bytes(s.data) for s in sounds), np.int16)).max()
        assert loud > 3000  # speech, not silence

    asyncio.run(scenario())


def test_clear_buffer_stops_the_speech_at_once() -> None:
    async def scenario() -> None:
        video = RealtimeAvatarVideo(URL, StreamStart(type="start", size=128, sample_rate=16000))
        await video.connect()
        try:
            for frame in agent_audio(4.0, channels=1):
                await video.push_audio(frame)
            stream = video.__aiter__()
            while not isinstance(await anext(stream), rtc.AudioFrame):
                pass  # speech has begun
            await video.clear_buffer()
            after = [await asyncio.wait_for(anext(stream), 5) for _ in range(15)]
        finally:
            await video.aclose()
        assert not [item for item in after if isinstance(item, rtc.AudioFrame)], "speech went on after clear"
        assert all(isinstance(item, rtc.VideoFrame) for item in after)  # the face idles

    asyncio.run(scenario())


class StandInRoom(rtc.EventEmitter[str]):
    """Stands in for a LiveKit server's room (none can run here): connected, records what is published."""

    def __init__(self) -> None:
        super().__init__()
        self.published: list[str] = []
        self.local_participant = self

    def isconnected(self) -> bool:
        return True

    async def publish_track(self, track: Any, options: Any) -> Any:
        self.published.append(type(track).__name__)
        return _Publication()


class _Publication:
    async def wait_for_subscription(self) -> None:
        return None


def test_avatar_runner_publishes_the_face_and_reports_the_playback() -> None:
    async def scenario() -> None:
        room = StandInRoom()
        video = RealtimeAvatarVideo(URL, StreamStart(type="start", size=128, sample_rate=24000))
        await video.connect()
        audio = QueueAudioOutput(sample_rate=24000)
        options = AvatarOptions(
            video_width=128, video_height=128, video_fps=25, audio_sample_rate=24000, audio_channels=1
        )
        runner = AvatarRunner(room, audio_recv=audio, video_gen=video, options=options)  # type: ignore[arg-type]
        pushed: list[rtc.VideoFrame | rtc.AudioFrame] = []
        real_push = runner.av_sync.push

        async def observed(frame: rtc.VideoFrame | rtc.AudioFrame, timestamp: float | None = None) -> None:
            pushed.append(frame)
            await real_push(frame, timestamp)

        runner.av_sync.push = observed  # type: ignore[method-assign]
        finished: list[Any] = []
        audio.on("playback_finished", finished.append)
        await runner.start()
        try:
            for frame in agent_audio(1.0, channels=1):
                await audio.capture_frame(frame)  # as the agent session's TTS output does
            audio.flush()
            for _ in range(200):
                if finished:
                    break
                await asyncio.sleep(0.05)
        finally:
            await runner.aclose()
            await video.aclose()
        assert sorted(room.published) == ["LocalAudioTrack", "LocalVideoTrack"]
        assert finished and not finished[0].interrupted
        assert abs(finished[0].playback_position - 1.0) <= 0.08, finished[0]
        sounds = [frame for frame in pushed if isinstance(frame, rtc.AudioFrame)]
        assert abs(sum(s.samples_per_channel for s in sounds) - 24000) <= 960 * 2
        assert sum(isinstance(frame, rtc.VideoFrame) for frame in pushed) >= 25

    asyncio.run(scenario())
