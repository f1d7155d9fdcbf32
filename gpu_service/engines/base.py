"""What every engine promises: the TTS Protocol and the data it returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from gpu_service.assets import AssetReference


@dataclass(frozen=True)
class PhonemeEvent:
    t: float  # seconds from the start of the audio
    phoneme: str  # IPA; "_" is a pause


@dataclass
class Speech:
    samples: np.ndarray  # float32 mono in [-1, 1]
    sample_rate: int
    phonemes: list[PhonemeEvent] | None  # None when the engine gives no timeline
    voice_matched: bool = False
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage, e.g. synth, match

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate


class TTSEngine(Protocol):
    name: str
    languages: frozenset[str]

    def synthesize(self, text: str, language: str, voice: AssetReference | None, *, match_voice: bool) -> Speech: ...


@dataclass
class Rendered:
    path: Path
    frames: int
    fps: int
    size: int
    duration_s: float
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage


class AvatarEngine(Protocol):
    name: str

    def render(
        self, portrait: AssetReference, speech: Speech, out: Path, *, fps: int, size: int, seed: int = 0
    ) -> Rendered: ...
