"""Whisper through faster-whisper, from a local model folder only (no download at run time).

The language is Whisper's likeliest of the three the product speaks; its first guess among all of its languages is
reported beside it. Silero VAD (its ONNX file ships inside faster-whisper) drops silence before decoding.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from common.storage.whisper_model import missing_whisper_files
from contracts.gpu_service import SUPPORTED_LANGUAGES, Language
from gpu_service.engines.base import EngineLoadError

RATE = 16_000  # what Whisper listens at
WHISPER_CODE: dict[Language, str] = {"en": "en", "zh": "zh", "es": "es"}


@dataclass(frozen=True)
class Transcript:
    text: str
    language: Language
    whisper_language: str
    language_probability: float
    segments: list[tuple[float, float, str]] = field(default_factory=list)  # start, end (seconds), text
    speech_s: float = 0.0  # what voice activity detection kept


class Transcriber:
    def __init__(self, model_dir: Path, device: str, beam_size: int, threads: int | None = None) -> None:
        """`threads`: CPU threads per transcription; default: one per core (CTranslate2's own default, 4, made two
        cores take turns: 0.79 s for 3 s of speech against 0.66 s on two threads)."""
        if missing := missing_whisper_files(model_dir):
            raise EngineLoadError(f"the Whisper model folder lacks {', '.join(missing)}")
        from faster_whisper import WhisperModel

        compute = "float16" if device == "cuda" else "int8"
        self.model: Any = WhisperModel(
            str(model_dir),
            device="cuda" if device == "cuda" else "cpu",
            compute_type=compute,
            cpu_threads=threads or os.cpu_count() or 1,
            local_files_only=True,
        )
        self.name = "whisper"
        self.model_name = model_dir.name
        self.beam_size = beam_size
        self._lock = threading.Lock()  # one decode at a time per model

    def transcribe(self, samples: np.ndarray, language: Language | None = None, vad: bool = True) -> Transcript:
        """`samples`: mono float32 at 16 kHz. `language`: known in advance, or None to detect it. `vad`: drop
        silence first (False for audio a live detector has already cut to an utterance)."""
        audio = samples.astype(np.float32)
        with self._lock:
            # One pass: the encoder's output for language identification is reused for decoding.
            pieces, info = self._decode(audio, language, vad)
            ranked = dict(info.all_language_probs or [(info.language, info.language_probability)])
            chosen = language or _likeliest(ranked)
            if WHISPER_CODE[chosen] != info.language:  # heard as another language: decode as the likeliest of ours
                pieces, info = self._decode(audio, chosen, vad)
            segments = [(float(piece.start), float(piece.end), piece.text.strip()) for piece in pieces]
        glue = "" if chosen == "zh" else " "
        return Transcript(
            text=glue.join(text for _, _, text in segments if text).strip(),
            language=chosen,
            whisper_language=str(max(ranked, key=lambda code: ranked[code])),
            language_probability=float(ranked.get(WHISPER_CODE[chosen], 0.0)),
            segments=segments,
            speech_s=float(getattr(info, "duration_after_vad", info.duration)),
        )

    def _decode(self, audio: np.ndarray, language: Language | None, vad: bool) -> tuple[Any, Any]:
        pieces, info = self.model.transcribe(
            audio,
            language=WHISPER_CODE[language] if language else None,
            beam_size=self.beam_size,
            vad_filter=vad,
            condition_on_previous_text=False,
            temperature=0.0,
        )
        return list(pieces), info


def _likeliest(probabilities: dict[str, float]) -> Language:
    """Of the languages the product speaks, the one Whisper finds likeliest."""
    return max(SUPPORTED_LANGUAGES, key=lambda code: probabilities.get(WHISPER_CODE[code], 0.0))
