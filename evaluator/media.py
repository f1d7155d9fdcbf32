"""Read back what the product wrote: stream facts, decoded frames, the audio track."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np


@dataclass(frozen=True)
class VideoInfo:
    duration_s: float
    fps: float
    width: int
    height: int
    frames: int
    video_codec: str
    pixel_format: str
    audio_codec: str | None
    audio_duration_s: float | None
    faststart: bool  # the moov atom comes before the media data: playable while downloading


def probe(path: Path) -> VideoInfo:
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        frames = sum(1 for _ in container.demux(video) if _.size)
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        fps = float(video.average_rate) if video.average_rate else 0.0
        audio_duration = (
            float(audio.duration * audio.time_base)
            if audio is not None and audio.duration is not None and audio.time_base is not None
            else None
        )
        head = path.read_bytes()[: 1 << 20]
        moov, mdat = head.find(b"moov"), head.find(b"mdat")
        return VideoInfo(
            duration_s=frames / fps if fps else 0.0,
            fps=fps,
            width=video.codec_context.width,
            height=video.codec_context.height,
            frames=frames,
            video_codec=video.codec_context.name,
            pixel_format=str(video.codec_context.pix_fmt),
            audio_codec=audio.codec_context.name if audio is not None else None,
            audio_duration_s=audio_duration,
            faststart=moov != -1 and (mdat == -1 or moov < mdat),
        )


def iter_frames(path: Path) -> Iterator[np.ndarray]:
    """RGB uint8 frames in display order."""
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            yield frame.to_ndarray(format="rgb24")
