"""The embedded TTS engine: espeak-ng (en-us, cmn, es) with a phoneme timeline, plus optional voice matching."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import numpy as np

from gpu_service.assets import AssetReference
from gpu_service.engines.base import PhonemeEvent, Speech
from gpu_service.engines.espeak_lib import EspeakLibrary
from gpu_service.engines.voice_match import apply_profile
from gpu_service.engines.voice_profiles import VoiceProfileStore
from gpu_service.text import split_sentences

ESPEAK_VOICES = {"en": "en-us", "zh": "cmn", "es": "es"}
# Phonetically varied text the base voice speaks once per reference voice to fit the match.
CALIBRATION_TEXT = {
    "en": "The quick brown fox jumps over the lazy dog. She sells sea shells by the sea shore, "
    "and Peter Piper picked a peck of pickled peppers while we watched the evening news.",
    "zh": "今天天气很好，我们一起去公园散步。他说中文说得非常流利，每天早上都读书写字，晚上看电视新闻。",
    "es": "El veloz murciélago hindú comía feliz cardillo y kiwi. La cigüeña tocaba el saxofón detrás "
    "del palenque de paja, y todos cantaban juntos por la mañana.",
}
PAUSE = "_"


class EspeakEngine:
    name = "espeak"
    languages = frozenset(ESPEAK_VOICES)

    def __init__(self, profiles: VoiceProfileStore) -> None:
        self._lib = EspeakLibrary.shared()
        self._profiles = profiles
        self.sample_rate = self._lib.sample_rate
        self.version = self._lib.version

    def synthesize(self, text: str, language: str, voice: AssetReference | None, *, match_voice: bool) -> Speech:
        base_voice = ESPEAK_VOICES[language]
        started = time.perf_counter()
        profile = None
        if voice is not None and match_voice:
            profile = self._profiles.get(
                voice, base_voice, self.sample_rate, lambda: self._speak(CALIBRATION_TEXT[language], base_voice)[0]
            )
        setup_s = time.perf_counter() - started
        tick = time.perf_counter()
        spoken = [self._speak(sentence, base_voice) for sentence in split_sentences(text)]
        synth_s = time.perf_counter() - tick
        pieces = [samples for samples, _ in spoken]
        tick = time.perf_counter()
        if profile is not None:
            matched = profile
            # WORLD releases the GIL: sentences are matched in parallel, one per core.
            pieces = list(
                _matching_pool().map(lambda samples: apply_profile(samples, self.sample_rate, matched), pieces)
            )
        match_s = time.perf_counter() - tick
        phonemes: list[PhonemeEvent] = []
        offset = 0
        for samples, (_, marks) in zip(pieces, spoken, strict=True):
            phonemes.extend(PhonemeEvent((offset + index) / self.sample_rate, symbol) for index, symbol in marks)
            offset += len(samples)
        audio = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)
        return Speech(
            samples=audio,
            sample_rate=self.sample_rate,
            phonemes=_merge_pauses(phonemes),
            voice_matched=profile is not None,
            timings={"synth_s": synth_s, "match_s": match_s + setup_s},
        )

    def stream(
        self, text: str, language: str, voice: AssetReference | None, *, match_voice: bool
    ) -> Iterator[np.ndarray]:
        """One chunk per sentence: espeak and WORLD work on whole sentences."""
        for sentence in split_sentences(text):
            yield self.synthesize(sentence, language, voice, match_voice=match_voice).samples

    def _speak(self, text: str, base_voice: str) -> tuple[np.ndarray, list[tuple[int, str]]]:
        raw = self._lib.synthesize(text, base_voice)
        return raw.samples.astype(np.float32) / 32768.0, raw.phonemes


@lru_cache(maxsize=1)
def _matching_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="voice-match")


def _merge_pauses(events: list[PhonemeEvent]) -> list[PhonemeEvent]:
    """espeak reports a pause as several empty events in a row; keep the first of each run."""
    merged: list[PhonemeEvent] = []
    for event in events:
        if event.phoneme == PAUSE and merged and merged[-1].phoneme == PAUSE:
            continue
        merged.append(event)
    return merged
