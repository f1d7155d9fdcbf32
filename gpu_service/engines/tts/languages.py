"""Languages of the embedded TTS engine, declared once (the registry reads them without loading the engine)."""

from __future__ import annotations

ESPEAK_VOICES = {"en": "en-us", "zh": "cmn", "es": "es"}  # request language -> espeak-ng voice
ESPEAK_LANGUAGES = frozenset(ESPEAK_VOICES)
