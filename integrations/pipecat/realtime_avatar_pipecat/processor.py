"""A Pipecat frame processor placed after the TTS: the bot's speech goes to Realtime Avatar's avatar stream
(`WS /api/v1/avatar/stream`), and its face comes back as `OutputImageRawFrame`s with the same audio as
`TTSAudioRawFrame`s, each image queued to show as its audio starts (`sync_with_audio`). Between utterances the face
idles in real time. An `InterruptionFrame` drops what was not yet shown: the face idles from the next frame.

The TTS's own audio frames are consumed here (their sound comes back with the face, in sync); every other frame
passes through.
"""

from __future__ import annotations

import asyncio
import contextlib
from contextlib import AsyncExitStack

import numpy as np
from pipecat.frames.frames import (
    CancelFrame,
    EndFrame,
    Frame,
    InterruptionFrame,
    OutputImageRawFrame,
    StartFrame,
    TTSAudioRawFrame,
    TTSStoppedFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from client.avatar_stream import AvatarStreamClient
from contracts.avatar_stream import StreamEvent, StreamFrame, StreamStart


def i420_to_rgb(frame: StreamFrame) -> bytes:
    """BT.601 limited range, as the service encodes it."""
    width, height = frame.width, frame.height
    planes = np.frombuffer(frame.i420, np.uint8)
    y = planes[: width * height].reshape(height, width).astype(np.float32) - 16.0
    chroma = (height // 2, width // 2)
    u = planes[width * height : width * height * 5 // 4].reshape(chroma).astype(np.float32) - 128.0
    v = planes[width * height * 5 // 4 :].reshape(chroma).astype(np.float32) - 128.0
    u, v = (np.repeat(np.repeat(c, 2, axis=0), 2, axis=1) for c in (u, v))
    rgb = np.stack([1.164 * y + 1.596 * v, 1.164 * y - 0.392 * u - 0.813 * v, 1.164 * y + 2.017 * u], axis=-1)
    return bytes(np.clip(rgb, 0, 255).astype(np.uint8).tobytes())


class RealtimeAvatarVideo(FrameProcessor):
    def __init__(
        self,
        url: str = "http://127.0.0.1:8000",
        *,
        portrait: str | None = None,
        size: int = 512,
        fps: int = 25,
        sample_rate: int = 24000,
        key: str | None = None,
        **kwargs: object,
    ) -> None:
        """`url`: the Realtime Avatar runtime; `portrait`: an id from /api/v1/portraits; `sample_rate`: 16000,
        24000 or 48000 (what the TTS sends is resampled to it, and the bot's audio leaves at it); `key`: the
        runtime's API key when it has keys."""
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._url, self._key = url, key
        self._start = StreamStart(
            type="start", portrait=portrait, size=size, fps=fps, sample_rate=sample_rate, output="frames"
        )
        self._held = AsyncExitStack()
        self._client: AvatarStreamClient | None = None
        self._reader: asyncio.Task[None] | None = None

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, StartFrame):
            await self.push_frame(frame, direction)
            await self._connect()
        elif isinstance(frame, TTSAudioRawFrame) and direction == FrameDirection.DOWNSTREAM:
            if self._client is not None:
                await self._client.push_audio(self._resampled(frame))
        elif isinstance(frame, TTSStoppedFrame):
            if self._client is not None:
                await self._client.end_of_speech()
            await self.push_frame(frame, direction)
        elif isinstance(frame, InterruptionFrame):
            if self._client is not None:
                await self._client.clear()
            await self.push_frame(frame, direction)
        elif isinstance(frame, EndFrame | CancelFrame):
            await self._disconnect()
            await self.push_frame(frame, direction)
        else:
            await self.push_frame(frame, direction)

    def _resampled(self, frame: TTSAudioRawFrame) -> bytes:
        samples = np.frombuffer(frame.audio, np.int16).reshape(-1, frame.num_channels).mean(axis=1)
        rate = self._start.sample_rate
        if frame.sample_rate != rate and len(samples):
            # Linear interpolation: a TTS's 16/22.05/24 kHz to the stream's rate (the mouth needs no better).
            count = round(len(samples) * rate / frame.sample_rate)
            samples = np.interp(np.arange(count) * frame.sample_rate / rate, np.arange(len(samples)), samples)
        return bytes(np.clip(samples, -32768, 32767).astype("<i2").tobytes())

    async def _connect(self) -> None:
        try:
            self._client = await self._held.enter_async_context(
                AvatarStreamClient.connect(self._url, self._start, key=self._key)
            )
        except Exception as exc:
            await self.push_error(f"Realtime Avatar: {exc}", exception=exc)
            return
        self._reader = self.create_task(self._forward(self._client))

    async def _disconnect(self) -> None:
        if self._reader is not None:
            await self.cancel_task(self._reader)
            self._reader = None
        with contextlib.suppress(Exception):
            await self._held.aclose()
        self._client = None

    async def _forward(self, client: AvatarStreamClient) -> None:
        async for item in client:
            if isinstance(item, StreamEvent) and item.type == "error":
                await self.push_error(f"Realtime Avatar: {item.detail}")
            elif isinstance(item, StreamFrame):
                image = OutputImageRawFrame(image=i420_to_rgb(item), size=(item.width, item.height), format="RGB")
                image.pts = item.pts
                if item.speaking:
                    image.sync_with_audio = True  # shown when its audio starts playing
                    await self.push_frame(image)
                    await self.push_frame(TTSAudioRawFrame(item.pcm16, self._start.sample_rate, 1))
                else:
                    await self.push_frame(image)
