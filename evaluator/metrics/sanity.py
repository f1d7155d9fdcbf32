"""Video sanity: the file decodes, its streams are what a player expects, and it is as long as its audio."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from evaluator.media import VideoInfo, probe


class VideoSanity(BaseModel):
    decodable: bool
    error: str | None = None
    duration_s: float = 0.0
    audio_duration_s: float | None = None
    fps: float = 0.0
    width: int = 0
    height: int = 0
    video_codec: str | None = None
    pixel_format: str | None = None
    audio_codec: str | None = None
    faststart: bool = False

    @property
    def audio_present(self) -> bool:
        return self.audio_codec is not None and (self.audio_duration_s or 0) > 0

    def duration_gap_frames(self) -> float:
        """How far video and audio lengths differ, in frames (inf without audio)."""
        if not self.audio_present or not self.fps:
            return float("inf")
        assert self.audio_duration_s is not None
        return abs(self.duration_s - self.audio_duration_s) * self.fps


def video_sanity(path: Path) -> VideoSanity:
    try:
        info: VideoInfo = probe(path)
    except Exception as error:  # any decoder failure is the finding, not a crash of the judge
        return VideoSanity(decodable=False, error=f"{type(error).__name__}: {error}")
    return VideoSanity(
        decodable=info.frames > 0,
        error=None if info.frames > 0 else "no video frames",
        duration_s=info.duration_s,
        audio_duration_s=info.audio_duration_s,
        fps=info.fps,
        width=info.width,
        height=info.height,
        video_codec=info.video_codec,
        pixel_format=info.pixel_format,
        audio_codec=info.audio_codec,
        faststart=info.faststart,
    )
