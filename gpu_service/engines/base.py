"""What every engine promises: the TTS Protocol and the data it returns."""

from __future__ import annotations

from collections.abc import Iterator
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
    voice_matched: bool = False  # the embedded engine moved its voice toward the reference
    voice_cloned: bool = False  # a cloning engine (XTTS) spoke in the reference voice
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage, e.g. synth, match

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate


class TTSEngine(Protocol):
    name: str
    languages: frozenset[str]

    def synthesize(self, text: str, language: str, voice: AssetReference | None, *, match_voice: bool) -> Speech: ...

    def stream(
        self, text: str, language: str, voice: AssetReference | None, *, match_voice: bool
    ) -> Iterator[np.ndarray]:
        """Float32 mono chunks at `sample_rate`, as soon as each is ready."""
        ...

    @property
    def sample_rate(self) -> int: ...


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
