"""Video sanity: the file decodes, its streams are what a player expects, and it is as long as its audio."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from evaluator.media import VideoInfo, probe


class VideoSanity(BaseModel):
    decodable: bool
    error: str | None = None
    info: VideoInfo | None = None  # what the container says, when it could be read

    @property
    def fps(self) -> float:
        return self.info.fps if self.info else 0.0

    @property
    def width(self) -> int:
        return self.info.width if self.info else 0

    @property
    def height(self) -> int:
        return self.info.height if self.info else 0

    @property
    def audio_present(self) -> bool:
        return self.info is not None and self.info.audio_codec is not None and (self.info.audio_duration_s or 0) > 0

    def duration_gap_frames(self) -> float:
        """How far video and audio lengths differ, in frames (inf without audio)."""
        if self.info is None or not self.audio_present or not self.info.fps:
            return float("inf")
        assert self.info.audio_duration_s is not None
        return abs(self.info.duration_s - self.info.audio_duration_s) * self.info.fps


def video_sanity(path: Path) -> VideoSanity:
    try:
        info = probe(path)
    except Exception as error:  # any decoder failure is the finding, not a crash of the judge
        return VideoSanity(decodable=False, error=f"{type(error).__name__}: {error}")
    decodable = info.frames > 0
    return VideoSanity(decodable=decodable, error=None if decodable else "no video frames", info=info)
