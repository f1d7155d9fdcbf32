"""A livekit-agents `VideoGenerator` backed by Realtime Avatar's avatar stream (`WS /api/v1/avatar/stream`).

push_audio() sends the agent's audio as it comes (resampled to the stream's rate, mixed to mono); the stream's
frames come back as `rtc.VideoFrame` (I420) and, while speaking, the `rtc.AudioFrame` each covers; an utterance's
end comes back as `AudioSegmentEnd` once its last frame is out. clear_buffer() drops what was not yet shown, here
and on the service, and the face idles from the next frame.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import numpy as np
from livekit import rtc
from livekit.agents.voice.avatar import AudioSegmentEnd, VideoGenerator

from client.avatar_stream import AvatarStreamClient
from contracts.avatar_stream import StreamEvent, StreamFrame, StreamStart

QUEUED_S = 2.0  # frames made ahead of playback held here; beyond, the stream is not read (the service waits)

Output = rtc.VideoFrame | rtc.AudioFrame | AudioSegmentEnd


class RealtimeAvatarVideo(VideoGenerator):
    def __init__(self, url: str, start: StreamStart, key: str | None = None) -> None:
        """`url`: the runtime (http://host:8000); `start`: portrait, size, fps and the stream's sample rate (the
        audio published to the room is at that rate). Frames are asked for raw (`output: "frames"`)."""
        self._url, self._key = url, key
        self._start = start.model_copy(update={"output": "frames"})
        self._client: AvatarStreamClient | None = None
        self._held = AsyncExitStack()
        # (generation, what one stream item became): clear_buffer() starts a new generation, and what an older one
        # made (a frame the reader held while the queue was cleared) is never played.
        self._out: asyncio.Queue[tuple[int, tuple[Output, ...]]] = asyncio.Queue(
            maxsize=max(1, round(QUEUED_S * start.fps))
        )
        self._generation = 0
        self._reader: asyncio.Task[None] | None = None
        self._resampler: rtc.AudioResampler | None = None
        self._resampling_from = 0

    @property
    def start_message(self) -> StreamStart:
        return self._start

    async def connect(self) -> None:
        """Open the stream (raises client.avatar_stream.StreamRefused with the service's reason)."""
        self._client = await self._held.enter_async_context(
            AvatarStreamClient.connect(self._url, self._start, key=self._key)
        )
        self._reader = asyncio.create_task(self._read(self._client))

    async def aclose(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        await self._held.aclose()

    async def push_audio(self, frame: rtc.AudioFrame | AudioSegmentEnd) -> None:
        client = self._require_client()
        if isinstance(frame, AudioSegmentEnd):
            await client.end_of_speech()
            return
        samples = np.frombuffer(frame.data, np.int16).reshape(-1, frame.num_channels)
        mono = samples.mean(axis=1).astype(np.int16) if frame.num_channels > 1 else samples[:, 0]
        rate = self._start.sample_rate
        if frame.sample_rate != rate:
            if self._resampler is None or self._resampling_from != frame.sample_rate:
                self._resampler = rtc.AudioResampler(frame.sample_rate, rate)
                self._resampling_from = frame.sample_rate
            pieces = self._resampler.push(rtc.AudioFrame(mono.tobytes(), frame.sample_rate, 1, len(mono)))
            data = b"".join(bytes(piece.data) for piece in pieces)
        else:
            data = mono.tobytes()
        if data:
            await client.push_audio(data)

    async def clear_buffer(self) -> None:
        self._generation += 1
        with contextlib.suppress(asyncio.QueueEmpty):
            while True:
                self._out.get_nowait()
        await self._require_client().clear()

    def __aiter__(self) -> AsyncIterator[Output]:
        return self._frames()

    async def _frames(self) -> AsyncIterator[Output]:
        while True:
            generation, outputs = await self._out.get()
            if generation == self._generation:
                for output in outputs:
                    yield output

    async def _read(self, client: AvatarStreamClient) -> None:
        async for item in client:
            generation = self._generation
            if isinstance(item, StreamEvent):
                if item.type == "idle":
                    await self._out.put((generation, (AudioSegmentEnd(),)))
                elif item.type == "error":
                    raise RuntimeError(f"the avatar stream failed: {item.detail}")
            elif isinstance(item, StreamFrame):  # after a clear, the client yields no speech made before it
                picture = rtc.VideoFrame(item.width, item.height, rtc.VideoBufferType.I420, item.i420)
                if item.speaking:
                    sound = rtc.AudioFrame(item.pcm16, self._start.sample_rate, 1, item.samples)
                    await self._out.put((generation, (picture, sound)))
                else:
                    await self._out.put((generation, (picture,)))

    def _require_client(self) -> AvatarStreamClient:
        if self._client is None:
            raise RuntimeError("connect() first (RealtimeAvatar.start does it)")
        return self._client
