"""Pass/fail limits, read from a TOML file (evaluator/thresholds.toml by default)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError


class LatencyLimits(BaseModel):
    rtf_max: float = Field(gt=0)
    first_video_s_max: float = Field(gt=0)


class VoiceLimits(BaseModel):
    similarity_min: float = Field(ge=-1, le=1)
    f0_median_max_semitones: float = Field(gt=0)
    cloning_engines: tuple[str, ...] = Field(
        ("xtts",), description="TTS engines held to these limits; the others' similarity is reported only."
    )


class LanguageLimits(BaseModel):
    candidates: tuple[str, ...] = Field(min_length=2)


class IntelligibilityLimits(BaseModel):
    wer_max: dict[str, float]
    cer_max: dict[str, float]

    def limit(self, language: str) -> tuple[str, float]:
        if language in self.cer_max:
            return "cer", self.cer_max[language]
        if language in self.wer_max:
            return "wer", self.wer_max[language]
        raise KeyError(f"no WER or CER limit for language {language!r}")


class LipSyncLimits(BaseModel):
    correlation_min: float = Field(ge=-1, le=1)
    offset_ms_max: float = Field(ge=0)


class VideoLimits(BaseModel):
    duration_max_frames: float = Field(ge=0)
    fps: float = Field(gt=0)
    size: int = Field(gt=0)


class ConversationLimits(BaseModel):
    first_video_s_max: float = Field(gt=0)
    reply_chars_min: int = Field(ge=1)
    reply_chars_max: int = Field(ge=1)


class Thresholds(BaseModel):
    latency: LatencyLimits
    voice: VoiceLimits
    language: LanguageLimits
    intelligibility: IntelligibilityLimits
    lipsync: LipSyncLimits
    video: VideoLimits
    conversation: ConversationLimits


def load_thresholds(path: Path) -> Thresholds:
    try:
        return Thresholds.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError as error:
        raise ValueError(f"thresholds file not found: {path}") from error
    except (tomllib.TOMLDecodeError, ValidationError) as error:
        raise ValueError(f"{path}: {error}") from error
