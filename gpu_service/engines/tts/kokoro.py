"""The embedded neural TTS engine: Kokoro-82M (int8 ONNX, CPU), speaking in the shipped style vector nearest the
reference voice's pitch.

It does not clone a voice: with matching on, its output's average spectrum is moved toward the reference (an EQ).
The mouth's timeline is the phonemes Kokoro was given, timed by its own duration predictor.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from gpu_service.assets import AssetReference
from gpu_service.engines.base import PAUSE, EngineLoadError, PhonemeEvent, SpeechSegment, merge_pauses
from gpu_service.engines.tts.kokoro_model import MAX_TOKENS, SAMPLE_RATE, SAMPLES_PER_FRAME, KokoroModel
from gpu_service.engines.tts.kokoro_phonemes import ipa_for, phonemes_for
from gpu_service.engines.tts.kokoro_settings import KokoroSettings
from gpu_service.engines.tts.language_runs import joined, spoken_runs
from gpu_service.engines.tts.languages import ESPEAK_LANGUAGES
from gpu_service.engines.tts.voice_match import CALIBRATION_TEXT, VoiceProfile, apply_profile
from gpu_service.engines.tts.voice_profiles import VoiceProfileStore
from gpu_service.text import split_sentences, use_word_list_cache

# The sound of a token starts ~75 ms before the sum of the durations before it (measured: the loudness of en, es and zh
# sentences correlates best with their vowel/closure timeline moved 70-80 ms earlier).
LEAD_S = 3 * SAMPLES_PER_FRAME / SAMPLE_RATE
SILENT_S = 0.3  # a sentence with nothing to say (only emoji, say) still takes a moment
# Kokoro surrounds each utterance with ~0.4 s of silence before and ~0.5 s after: kept to these, in whole frames of
# its durations (the first sound comes 0.35 s sooner; the sentence pause stays natural).
KEEP_BEFORE_S, KEEP_AFTER_S = 0.05, 0.3
# After a piece that stops mid-sentence (a live reply's first words, a sentence over MAX_TOKENS): the next piece
# follows as the next word would, not after a sentence's pause (0.43 s between "He was not an old" and "supposed").
KEEP_AFTER_OPEN_S = 0.05
CLOSING_PUNCTUATION = frozenset(",.!?;:…—")
AUDIBLE = 0.01  # |sample| above which the output is sound


class KokoroEngine:
    name = "kokoro"
    languages = ESPEAK_LANGUAGES  # English and Spanish through espeak-ng's phonemes, Mandarin through misaki's
    sample_rate = SAMPLE_RATE

    def __init__(self, settings: KokoroSettings, cache_dir: Path, profiles: VoiceProfileStore) -> None:
        """`cache_dir`: the joined model and jieba's word list are kept there."""
        self._model = KokoroModel(cache_dir, settings.voices_file, settings.threads)
        unknown = {name for name in (settings.voice, settings.low_voice) if name not in self._model.voices}
        if unknown:
            known = ", ".join(sorted(self._model.voices))
            raise EngineLoadError(f"Kokoro has no voice {', '.join(sorted(unknown))}; this voices file has: {known}")
        use_word_list_cache(cache_dir / "jieba")
        self._settings = settings
        self._match_parts = frozenset(settings.match_parts)
        self._profiles = profiles

    def stream(self, text: str, language: str, voice: AssetReference | None, *, match_voice: bool) -> KokoroSpeech:
        """One segment per sentence (a sentence longer than the model takes at once: one per piece)."""
        return KokoroSpeech(lambda run: self._sentences(text, language, voice, match_voice, run))

    def _sentences(
        self, text: str, language: str, voice: AssetReference | None, match_voice: bool, run: Any
    ) -> Generator[SpeechSegment, None, None]:
        style = self.style_for(voice)
        profile = self._profile(voice, style) if voice is not None and match_voice else None
        for sentence in split_sentences(text):
            yield from self._segments(sentence, language, style, profile, run)

    def warm(self, voice: AssetReference) -> None:
        """Fit what matching `voice` needs now (pitch, profile: ~1 s), not in its first request."""
        if self._match_parts:
            self._profile(voice, self.style_for(voice))

    def _profile(self, voice: AssetReference, style: str) -> VoiceProfile:
        # One per shipped voice and reference, whatever the language: the EQ is about the voices, not the words.
        return self._profiles.get(voice, f"kokoro-{style}", SAMPLE_RATE, lambda: self._calibration(style))

    def style_for(self, voice: AssetReference | None) -> str:
        """The shipped voice nearest the reference in pitch: a low voice for a low reference (it is not cloned)."""
        if voice is None or not self._settings.low_pitch_hz:
            return self._settings.voice
        pitch = self._profiles.pitch_hz(voice)
        return self._settings.low_voice if 0 < pitch < self._settings.low_pitch_hz else self._settings.voice

    def _segments(
        self, sentence: str, language: str, style: str, profile: VoiceProfile | None, run: Any = None
    ) -> Iterator[SpeechSegment]:
        runs = spoken_runs(sentence, language)
        symbols = [char for char in phonemes_for(runs) if char in self._model.vocab]
        pieces = _pieces(symbols) or [[]]
        for index, piece in enumerate(pieces):
            started = time.perf_counter()
            samples, timeline = self._speak(piece, style, run)
            if profile is not None:
                samples = apply_profile(samples, SAMPLE_RATE, profile, self._match_parts)
            yield SpeechSegment(
                samples=samples,
                sample_rate=SAMPLE_RATE,
                phonemes=timeline,
                text=sentence if index == 0 else "",
                spoken=joined(runs) if index == 0 else "",
                voice_matched=profile is not None,
                seconds=time.perf_counter() - started,
            )

    def _speak(self, symbols: list[str], style: str, run: Any = None) -> tuple[np.ndarray, list[PhonemeEvent]]:
        if not symbols:
            return np.zeros(int(SILENT_S * SAMPLE_RATE), np.float32), [PhonemeEvent(0.0, PAUSE)]
        spoken = self._model.speak(self._model.tokens("".join(symbols)), style, self._settings.speed, run)
        timeline = _timeline([PAUSE, *symbols, PAUSE], spoken.frames)
        keep_after = KEEP_AFTER_S if _ends_a_clause(symbols) else KEEP_AFTER_OPEN_S
        return _trimmed(spoken.audio, timeline, keep_after)

    def _calibration(self, style: str) -> np.ndarray:
        # The English text's first sentence (~4 s) is enough for the EQ's average spectrum, and takes ~1 s to say.
        runs = spoken_runs(split_sentences(CALIBRATION_TEXT["en"])[0], "en")
        symbols = [char for char in phonemes_for(runs) if char in self._model.vocab]
        return np.concatenate([self._speak(piece, style)[0] for piece in _pieces(symbols)])


class KokoroSpeech:
    """Kokoro's segments, whose synthesis in progress cancel() stops at once from any thread (onnxruntime ends the
    run: a 3 s sentence stopped after 0.1 s); the stream then ends. Without it, an interrupted reply's sentence went
    on taking both cores for up to its whole synthesis, delaying the next reply's first token by as much."""

    def __init__(self, segments: Callable[[Any], Generator[SpeechSegment, None, None]]) -> None:
        import onnxruntime

        self._run = onnxruntime.RunOptions()
        self._segments = segments(self._run)

    def __iter__(self) -> Iterator[SpeechSegment]:
        return self

    def __next__(self) -> SpeechSegment:
        if self._run.terminate:
            raise StopIteration
        try:
            return next(self._segments)
        except Exception:
            if self._run.terminate:  # onnxruntime's way to say the run was stopped
                raise StopIteration from None
            raise

    def cancel(self) -> None:
        self._run.terminate = True

    def close(self) -> None:
        self._segments.close()


def _timeline(symbols: list[str], frames: np.ndarray) -> list[PhonemeEvent]:
    """Each sounding symbol starts where the durations before it end (less LEAD_S); stress, tone and spaces
    lengthen the sound before them."""
    starts = np.concatenate([[0], np.cumsum(frames)[:-1]]) * SAMPLES_PER_FRAME / SAMPLE_RATE
    starts = np.maximum(starts - LEAD_S, 0.0)
    starts[0] = 0.0
    events = []
    for symbol, start in zip(symbols, starts, strict=True):
        ipa = PAUSE if symbol == PAUSE else ipa_for(symbol)
        if ipa is not None:
            events.append(PhonemeEvent(float(start), ipa))
    return merge_pauses(events)


def _ends_a_clause(symbols: list[str]) -> bool:
    """Whether the phonemes end with punctuation, before any closing quote, bracket or space ('hˈI. ')."""
    text = "".join(symbols).rstrip(' "“”()')
    return bool(text) and text[-1] in CLOSING_PUNCTUATION


def _trimmed(
    audio: np.ndarray, timeline: list[PhonemeEvent], keep_after_s: float
) -> tuple[np.ndarray, list[PhonemeEvent]]:
    """The audio without most of its leading and trailing silence (`keep_after_s` of it kept), and the timeline moved
    with it."""
    sound = np.flatnonzero(np.abs(audio) > AUDIBLE)
    if not sound.size:
        return audio, timeline
    start = max(0, int(sound[0] - KEEP_BEFORE_S * SAMPLE_RATE)) // SAMPLES_PER_FRAME * SAMPLES_PER_FRAME
    end = -(-int(sound[-1] + keep_after_s * SAMPLE_RATE) // SAMPLES_PER_FRAME) * SAMPLES_PER_FRAME
    end = min(len(audio), end)
    offset, duration = start / SAMPLE_RATE, (end - start) / SAMPLE_RATE
    moved = [PhonemeEvent(event.t - offset, event.phoneme) for event in timeline]
    before = [event for event in moved if event.t <= 0]  # the one sounding at the new start begins there
    kept = [PhonemeEvent(0.0, before[-1].phoneme)] if before else []
    kept += [event for event in moved if 0 < event.t < duration]
    silent_from = (sound[-1] - start) / SAMPLE_RATE + KEEP_BEFORE_S  # the durations run on into the silence
    kept = [event for event in kept if event.t < silent_from or event.phoneme == PAUSE]
    if kept and kept[-1].phoneme != PAUSE:
        kept.append(PhonemeEvent(silent_from, PAUSE))
    return audio[start:end], kept


def _pieces(symbols: list[str]) -> list[list[str]]:
    """At most MAX_TOKENS symbols each, cut after punctuation where there is some, else at a space."""
    pieces: list[list[str]] = []
    rest = symbols
    while len(rest) > MAX_TOKENS:
        window = "".join(rest[:MAX_TOKENS])
        cut = max((m.end() for m in re.finditer(r"[,.;:!?…—]", window)), default=0) or window.rfind(" ") + 1
        cut = cut or MAX_TOKENS
        pieces.append(rest[:cut])
        rest = rest[cut:]
    return [*pieces, rest] if rest else pieces
