"""language=auto: en, zh or es, decided from the text's language scores (common.text.language)."""

from __future__ import annotations

import re

from common.errors import Unprocessable
from common.text.language import language_scores
from contracts.gpu_service import SUPPORTED_LANGUAGES, Language
from contracts.runtime import RequestLanguage

SAME_AS = {"yue": "zh", "wuu": "zh", "zh-cn": "zh", "zh-tw": "zh"}
HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
KANA_OR_HANGUL = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff\uac00-\ud7af]")


def _han_only(text: str) -> bool:
    """Chinese characters with no kana or hangul: of the languages we speak, only Mandarin is written so.

    The lite model often calls short Chinese sentences Japanese (Japanese borrows the same characters);
    the script settles it before the model is asked.
    """
    return HAN.search(text) is not None and KANA_OR_HANGUL.search(text) is None


def detect_language(text: str) -> Language:
    """en, zh or es; 422 when the text is clearly another language."""
    if _han_only(text):
        return "zh"
    candidates = language_scores(text)
    scores: dict[Language, float] = {}
    for name, score in candidates.items():
        for language in SUPPORTED_LANGUAGES:
            if SAME_AS.get(name, name) == language:
                scores[language] = max(scores.get(language, 0.0), score)
    top, top_score = max(candidates.items(), key=lambda candidate: candidate[1], default=("unknown", 1.0))
    if not scores or (max(scores.values()) < 0.2 and top_score > 0.5):
        raise Unprocessable(
            f"the text looks like '{top}', which is not supported; supported languages are en, zh and es "
            "(set language explicitly to override)"
        )
    return max(scores, key=lambda language: scores[language])


def resolve_language(requested: RequestLanguage, text: str) -> tuple[Language, bool]:
    """The language to speak, and whether it was detected (requested "auto")."""
    if requested == "auto":
        return detect_language(text), True
    return requested, False
