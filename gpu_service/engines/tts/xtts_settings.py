"""Where XTTS-v2 comes from and how it runs: the settings (GPU_XTTS__*) are the engine's own options, declared
once."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field


class XttsSettings(BaseModel):
    model_dir: Path | None = Field(
        None,
        description="XTTS-v2 folder: config.json, model.pth, vocab.json (+ speakers_xtts.pth). See GPU_SERVICE.md.",
    )
    download: bool = Field(
        False, description="No model_dir: let coqui download XTTS-v2 (internet; COQUI_TOS_AGREED=1 accepts CPML)."
    )
    fp16: bool = Field(True, description="Half precision on CUDA (ignored on MPS and CPU).")
    stream_chunk_tokens: int = Field(20, ge=1, description="GPT tokens per streamed chunk (~0.2 s each).")
