"""Language and intelligibility: Whisper (faster-whisper, CTranslate2) hears the clip; WER or CER against the text.

The model is read from a local folder only (a missing folder would otherwise be taken for a hub id and fetched).
"""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache
from pathlib import Path

import jiwer
import numpy as np
from pydantic import BaseModel

from common.media.audio import resample
from common.storage.whisper_model import missing_whisper_files
from common.text.speakable import speakable
from contracts.gpu_service import SUPPORTED_LANGUAGES

WHISPER_RATE = 16_000
WHISPER_LANGUAGE = {"en": "en", "zh": "zh", "es": "es"}
SUPPORTED = tuple(WHISPER_LANGUAGE)


class WhisperModelMissing(RuntimeError):
    pass


class Heard(BaseModel):
    language: str  # Whisper's most likely language of all it knows
    language_probability: float
    expected_language_probability: float
    likeliest_of: dict[str, float]  # the probabilities of the candidate languages (the ones the product speaks)
    transcript: str  # transcribed with the expected language forced


class TextErrors(BaseModel):
    measure: str  # "wer" (en, es: words) or "cer" (zh: characters)
    rate: float
    reference: str  # both sides after normalization
    hypothesis: str


def check_model_dir(model_dir: Path) -> None:
    if missing := missing_whisper_files(model_dir):
        raise WhisperModelMissing(
            f"Whisper model incomplete in {model_dir} (missing {', '.join(missing)}); "
            "run `python scripts/fetch_whisper_model.py` or set EVAL_WHISPER_MODEL_DIR"
        )


class Listener:
    """One Whisper model, loaded once; calls are serialized (the model is not re-entrant across threads)."""

    def __init__(self, model_dir: Path) -> None:
        check_model_dir(model_dir)
        from faster_whisper import WhisperModel

        self._model = WhisperModel(str(model_dir), device="cpu", compute_type="int8", local_files_only=True)
        self._lock = threading.Lock()

    def hear(
        self,
        samples: np.ndarray,
        sample_rate: int,
        expected_language: str,
        candidates: tuple[str, ...] = SUPPORTED_LANGUAGES,
    ) -> Heard:
        audio = resample(samples, sample_rate, WHISPER_RATE).astype(np.float32)
        with self._lock:
            language, probability, all_probabilities = self._model.detect_language(audio)
            segments, _ = self._model.transcribe(
                audio,
                language=WHISPER_LANGUAGE[expected_language],
                beam_size=5,
                condition_on_previous_text=False,
                temperature=0.0,  # no sampling fallback: the same clip always gets the same transcript
            )
            transcript = "".join(segment.text for segment in segments).strip()
        probabilities = {name: float(p) for name, p in all_probabilities}
        return Heard(
            language=language,
            language_probability=float(probability),
            expected_language_probability=probabilities.get(WHISPER_LANGUAGE[expected_language], 0.0),
            likeliest_of={code: probabilities.get(WHISPER_LANGUAGE[code], 0.0) for code in candidates},
            transcript=transcript,
        )

    @staticmethod
    def choice_among(heard: Heard) -> str:
        """The candidate language Whisper finds most likely."""
        return max(heard.likeliest_of, key=lambda code: heard.likeliest_of[code])


@lru_cache(maxsize=1)
def _to_simplified() -> object:
    import opencc

    return opencc.OpenCC("t2s")


def normalize_text(text: str, language: str) -> str:
    """Compare words, not typography: NFKC, lower case, punctuation removed; Mandarin in simplified characters."""
    text = unicodedata.normalize("NFKC", text).lower()
    if language == "zh":
        text = _to_simplified().convert(text)  # type: ignore[attr-defined]
    text = "".join(" " if unicodedata.category(char).startswith(("P", "S")) else char for char in text)
    text = re.sub(r"\s+", " ", text).strip()
    if language == "zh":
        text = text.replace(" ", "")
    return text


def text_errors(reference: str, hypothesis: str, language: str) -> TextErrors:
    """WER for en and es; CER for zh, which has no spaces between words. Both texts are first put in words as the
    speech engines say them (Whisper writes "9", the text may say "nine"; or the reverse)."""
    ref = normalize_text(speakable(reference, language), language)
    hyp = normalize_text(speakable(hypothesis, language), language)
    if not ref:
        raise ValueError("the reference text is empty after normalization")
    measure = "cer" if language == "zh" else "wer"
    rate = jiwer.cer(ref, hyp) if measure == "cer" else jiwer.wer(ref, hyp)
    return TextErrors(measure=measure, rate=float(rate), reference=ref, hypothesis=hyp)
