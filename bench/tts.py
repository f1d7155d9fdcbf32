"""TTS real-time factor per engine and language, with and without voice matching, and matching's own cost."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from gpu_service.assets import AssetReference
from gpu_service.config import DEFAULT_ASSETS
from gpu_service.engines.base import TTSEngine, synthesize
from gpu_service.engines.tts.espeak import EspeakEngine
from gpu_service.engines.tts.kokoro import KokoroEngine
from gpu_service.engines.tts.kokoro_settings import KokoroSettings
from gpu_service.engines.tts.match_parts import ALL_PARTS
from gpu_service.engines.tts.voice_profiles import VoiceProfileStore

# Each gives roughly 10 s of speech.
TEXTS = {
    "en": "The museum opens at nine in the morning. Visitors can see paintings from five centuries, "
    "and the guided tour takes about an hour.",
    "zh": "博物馆早上九点开门。游客可以看到五个世纪的画作，导游带领的参观大约需要一个小时。",
    "es": "El museo abre a las nueve de la mañana. Los visitantes pueden ver pinturas de cinco siglos, "
    "y la visita guiada dura una hora.",
}
REPEATS = 3


def run() -> list[str]:
    scratch = Path(tempfile.mkdtemp(prefix="bench-tts-"))
    engines: list[TTSEngine] = [
        KokoroEngine(KokoroSettings(), scratch, VoiceProfileStore(scratch)),  # its default match: the EQ
        EspeakEngine(VoiceProfileStore(scratch), ALL_PARTS),  # every part, to show what they cost
    ]
    voice = AssetReference("librivox_en_reader", DEFAULT_ASSETS / "voices" / "librivox_en_reader.wav")
    lines = ["TTS (in-process; RTF = processing time / audio duration; median of 3)"]
    lines.append(
        f"{'engine':<8}{'lang':<5}{'audio s':>9}{'RTF plain':>11}{'RTF matched':>13}{'match cost':>12}{'fit s':>8}"
    )
    for engine in engines:
        for language, text in TEXTS.items():
            tick = time.perf_counter()
            synthesize(engine, "Warm up.", language, voice, match_voice=True)  # fits the profile once
            fit_s = time.perf_counter() - tick
            plain, matched, cost = [], [], []
            duration = 0.0
            for _ in range(REPEATS):
                tick = time.perf_counter()
                speech = synthesize(engine, text, language, voice, match_voice=False)
                plain.append(time.perf_counter() - tick)
                tick = time.perf_counter()
                speech = synthesize(engine, text, language, voice, match_voice=True)
                matched.append(time.perf_counter() - tick)
                duration = speech.duration_s
                cost.append(matched[-1] - plain[-1])
            lines.append(
                f"{engine.name:<8}{language:<5}{duration:>9.2f}{statistics.median(plain) / duration:>11.4f}"
                f"{statistics.median(matched) / duration:>13.4f}{statistics.median(cost) / duration:>12.4f}"
                f"{fit_s:>8.2f}"
            )
    lines.append("target: match cost < 0.1 x audio duration")
    return lines
