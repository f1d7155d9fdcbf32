"""Decoding what a stream delivered: frames and sound from MP4 bytes (fragmented or not)."""

from __future__ import annotations

import io
from dataclasses import dataclass

import av
import numpy as np

from common.media.remux import AAC_PRIMING

AAC_FRAME = 1024


@dataclass(frozen=True)
class Decoded:
    frames: list[np.ndarray]  # RGB
    audio: np.ndarray  # float32 mono
    sample_rate: int
    fps: float

    @property
    def video_s(self) -> float:
        return len(self.frames) / self.fps

    @property
    def audio_s(self) -> float:
        return len(self.audio) / self.sample_rate

    def synced_within(self, seconds: float) -> bool:
        """Video and audio last as long as each other, give or take `seconds` and the padding of AAC's last
        1024-sample frame."""
        return abs(self.video_s - self.audio_s) <= seconds + AAC_FRAME / self.sample_rate


def decode(data: bytes) -> Decoded:
    """Frames and sound; the AAC priming a fragmented stream carries (its edit list is ignored by demuxers) is cut,
    as a player does."""
    with av.open(io.BytesIO(data), mode="r") as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate or stream.guessed_rate or 25)
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    with av.open(io.BytesIO(data), mode="r") as container:
        rate = container.streams.audio[0].sample_rate
        pieces = [frame.to_ndarray().reshape(-1) for frame in container.decode(audio=0)]
    audio = np.concatenate(pieces).astype(np.float32) if pieces else np.zeros(0, np.float32)
    if b"moof" in data:
        audio = audio[AAC_PRIMING:]
    return Decoded(frames, audio, rate, fps)
