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
# Whisper encodes a 30 s window whatever the audio's length: 0.6 of the 0.7 s a 3 s question took on two cores. An
# utterance already cut to speech that fits SHORT_WINDOW_S with room to spare is encoded in a window that long
# (~5x less work; the bench's live section and GPU_SERVICE.md have the figures). Short windows can make Whisper
# repeat itself: such a decode (over TOKENS_PER_S, or text as repetitive as faster-whisper's own limit) is done again
# on the full window.
SHORT_WINDOW_S = 10.0
SHORT_MAX_S = 8.0
TOKENS_PER_S = 12  # more than fast Mandarin or Spanish speech needs
MAX_COMPRESSION = 2.4  # faster-whisper's compression_ratio_threshold: above it, text repeats itself
NO_SPEECH, LOW_LOGPROB = 0.6, -1.0  # faster-whisper's no-speech rule: likely silence, decoded without confidence


@dataclass(frozen=True)
class Decoded:
    segments: list[tuple[float, float, str]]
    whisper_language: str  # the language it was decoded as
    ranked: dict[str, float]  # Whisper's language probabilities (only the given one when it was given)
    speech_s: float


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
            decoded = self._decode(audio, language, vad)
            ranked = decoded.ranked
            chosen = language or _likeliest(ranked)
            if WHISPER_CODE[chosen] != decoded.whisper_language:  # heard as another: decode as the likeliest of ours
                decoded = self._decode(audio, chosen, vad)
        glue = "" if chosen == "zh" else " "
        return Transcript(
            text=glue.join(text for _, _, text in decoded.segments if text).strip(),
            language=chosen,
            whisper_language=str(max(ranked, key=lambda code: ranked[code])),
            language_probability=float(ranked.get(WHISPER_CODE[chosen], 0.0)),
            segments=decoded.segments,
            speech_s=decoded.speech_s,
        )

    def _decode(self, audio: np.ndarray, language: Language | None, vad: bool) -> Decoded:
        if not vad and len(audio) <= SHORT_MAX_S * RATE and (short := self._decode_short(audio, language)):
            return short
        pieces, info = self.model.transcribe(
            audio,
            language=WHISPER_CODE[language] if language else None,
            beam_size=self.beam_size,
            vad_filter=vad,
            condition_on_previous_text=False,
            temperature=0.0,
        )
        return Decoded(
            segments=[(float(piece.start), float(piece.end), piece.text.strip()) for piece in pieces],
            whisper_language=info.language,
            ranked=dict(info.all_language_probs or [(info.language, info.language_probability)]),
            speech_s=float(getattr(info, "duration_after_vad", info.duration)),
        )

    def _decode_short(self, audio: np.ndarray, language: Language | None) -> Decoded | None:
        """One greedy (or beam) decode of a SHORT_WINDOW_S window, without timestamps; None if it ran away."""
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_compression_ratio, get_suppressed_tokens

        features = self.model.feature_extractor(audio)
        window = np.zeros((features.shape[0], round(SHORT_WINDOW_S * RATE / self.model.feature_extractor.hop_length)))
        frames = min(features.shape[1], window.shape[1])
        window[:, :frames] = features[:, :frames]
        encoded = self.model.encode(window.astype(np.float32))
        if language is None:
            ranked = {token[2:-2]: float(p) for token, p in self.model.model.detect_language(encoded)[0]}
            code = max(ranked, key=lambda name: ranked[name])
        else:
            code = WHISPER_CODE[language]
            ranked = {code: 1.0}
        tokenizer = Tokenizer(self.model.hf_tokenizer, self.model.model.is_multilingual, "transcribe", code)
        prompt = [*tokenizer.sot_sequence, tokenizer.no_timestamps]
        allowed = int(len(audio) / RATE * TOKENS_PER_S) + 8
        result = self.model.model.generate(
            encoded,
            [prompt],
            beam_size=self.beam_size,
            max_length=len(prompt) + 2 * allowed,  # room to tell a decode that runs on, not much more to wait for
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=get_suppressed_tokens(tokenizer, (-1,)),
        )[0]
        tokens = [token for token in result.sequences_ids[0] if token < tokenizer.eot]
        text = tokenizer.decode(tokens).strip()
        if len(tokens) > allowed or get_compression_ratio(text) > MAX_COMPRESSION:
            return None
        mean_logprob = result.scores[0] * len(tokens) / (len(tokens) + 1)
        if result.no_speech_prob > NO_SPEECH and mean_logprob < LOW_LOGPROB:
            text = ""
        duration = len(audio) / RATE
        return Decoded([(0.0, duration, text)] if text else [], code, ranked, duration)


def _likeliest(probabilities: dict[str, float]) -> Language:
    """Of the languages the product speaks, the one Whisper finds likeliest."""
    return max(SUPPORTED_LANGUAGES, key=lambda code: probabilities.get(WHISPER_CODE[code], 0.0))
