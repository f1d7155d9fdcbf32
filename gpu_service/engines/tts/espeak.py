"""The embedded TTS engine: espeak-ng (en-us, cmn, es) with a phoneme timeline, plus optional voice matching."""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from functools import lru_cache

import numpy as np

from gpu_service.assets import AssetReference
from gpu_service.engines.base import PhonemeEvent, SpeechSegment, merge_pauses
from gpu_service.engines.tts.espeak_lib import EspeakLibrary
from gpu_service.engines.tts.language_runs import Run, joined, spoken_runs
from gpu_service.engines.tts.languages import ESPEAK_LANGUAGES, ESPEAK_VOICES
from gpu_service.engines.tts.match_parts import ALL_PARTS, MatchPart
from gpu_service.engines.tts.voice_match import CALIBRATION_TEXT, VoiceProfile, apply_profile
from gpu_service.engines.tts.voice_profiles import VoiceProfileStore
from gpu_service.text import split_sentences

MATCH_LOOKAHEAD = os.cpu_count() or 1  # sentences matched ahead of the one being consumed


class EspeakEngine:
    name = "espeak"
    languages = ESPEAK_LANGUAGES

    def __init__(self, profiles: VoiceProfileStore, match_parts: frozenset[MatchPart] = ALL_PARTS) -> None:
        self._lib = EspeakLibrary.shared()
        self._profiles = profiles
        self._parts = match_parts
        self.sample_rate = self._lib.sample_rate
        self.version = self._lib.version

    def stream(
        self, text: str, language: str, voice: AssetReference | None, *, match_voice: bool
    ) -> Iterator[SpeechSegment]:
        """One segment per sentence. With matching, the next sentences are matched in a pool while this one is
        consumed (WORLD releases the GIL); a closed stream cancels what has not started."""
        base_voice = ESPEAK_VOICES[language]
        profile = None
        if voice is not None and match_voice:
            profile = self._profiles.get(
                voice, base_voice, self.sample_rate, lambda: self._speak(CALIBRATION_TEXT[language], base_voice)[0]
            )
        sentences = split_sentences(text)
        if profile is None:
            for sentence in sentences:
                yield self._segment(sentence, language, None)
            return
        pending: deque[Future[SpeechSegment]] = deque()
        try:
            for sentence in sentences:
                pending.append(_matching_pool().submit(self._segment, sentence, language, profile))
                if len(pending) > MATCH_LOOKAHEAD:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()

    def _segment(self, sentence: str, language: str, profile: VoiceProfile | None) -> SpeechSegment:
        """The sentence as it is said (numbers, dates, addresses in words; a run in another script in its own
        language's voice); the segment keeps it as written."""
        started = time.perf_counter()
        runs = spoken_runs(sentence, language) or [Run("", language)]
        pieces: list[np.ndarray] = []
        marks: list[tuple[int, str]] = []
        for run in runs:
            samples, run_marks = self._speak(run.text, ESPEAK_VOICES[run.language])
            offset = sum(len(piece) for piece in pieces)
            marks += [(offset + index, symbol) for index, symbol in run_marks]
            pieces.append(samples)
        samples = np.concatenate(pieces)
        if profile is not None:
            samples = apply_profile(samples, self.sample_rate, profile, self._parts)
        return SpeechSegment(
            samples=samples,
            sample_rate=self.sample_rate,
            phonemes=merge_pauses([PhonemeEvent(index / self.sample_rate, symbol) for index, symbol in marks]),
            text=sentence,
            spoken=joined(runs),
            voice_matched=profile is not None,
            seconds=time.perf_counter() - started,
        )

    def _speak(self, text: str, base_voice: str) -> tuple[np.ndarray, list[tuple[int, str]]]:
        raw = self._lib.synthesize(text, base_voice)
        return raw.samples.astype(np.float32) / 32768.0, raw.phonemes


@lru_cache(maxsize=1)
def _matching_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="voice-match")
