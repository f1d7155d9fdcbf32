"""Helpers for the audio-in avatar stream's tests: recordings as PCM16, what the stream sent, decoded and measured."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from client.avatar_stream import AvatarStreamClient
from common.media.audio import load_audio
from contracts.avatar_stream import StreamEvent, StreamFrame
from evaluator.metrics.face_tracks import track_faces
from evaluator.metrics.lipsync import LipSync, lip_sync, loudness_per_frame


def recording(path: Path, rate: int, seconds: float | None = None) -> np.ndarray:
    samples, _ = load_audio(path, rate, seconds)
    return samples


def pcm16(samples: np.ndarray) -> bytes:
    return (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()


def rgb(frame: StreamFrame) -> np.ndarray:
    planes = np.frombuffer(frame.i420, np.uint8).reshape(frame.height * 3 // 2, frame.width)
    return np.asarray(cv2.cvtColor(planes, cv2.COLOR_YUV2RGB_I420))


def samples_of(frames: list[StreamFrame]) -> np.ndarray:
    return np.concatenate([np.frombuffer(frame.pcm16, "<i2").astype(np.float32) / 32768 for frame in frames])


@dataclass
class Received:
    """Everything the stream sent, each with the monotonic time it arrived."""

    items: list[tuple[float, StreamEvent | StreamFrame | bytes]] = field(default_factory=list)

    def events(self, kind: str | None = None) -> list[tuple[float, StreamEvent]]:
        return [(at, i) for at, i in self.items if isinstance(i, StreamEvent) and kind in (None, i.type)]

    def frames(self) -> list[tuple[float, StreamFrame]]:
        return [(at, item) for at, item in self.items if isinstance(item, StreamFrame)]

    def fmp4(self) -> bytes:
        return b"".join(item for _, item in self.items if isinstance(item, bytes))


def receive(client: AvatarStreamClient) -> tuple[Received, asyncio.Task[None]]:
    received = Received()

    async def read() -> None:
        async for item in client:
            received.items.append((time.monotonic(), item))

    return received, asyncio.create_task(read())


def lips_follow(images: list[np.ndarray], samples: np.ndarray, rate: int, fps: int) -> LipSync:
    """The evaluator's lip-sync judge: mouth opening seen in the frames against the audio's loudness."""
    tracks = track_faces(images)
    return lip_sync(tracks.mouth_open, loudness_per_frame(samples, rate, fps, len(images)), fps)
