"""What every engine promises. Streaming first: a TTS engine yields speech segments, an avatar engine opens a
session that turns segments (and silence) into frames. Whole-clip synthesis consumes the same stream."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from gpu_service.assets import AssetReference


class EngineLoadError(RuntimeError):
    """Raised by an engine that cannot load; the message says what is missing and how to fix it."""


PAUSE = "_"  # the phoneme of silence, in every engine's timeline


@dataclass(frozen=True)
class PhonemeEvent:
    t: float  # seconds from the start of the audio it belongs to
    phoneme: str  # IPA; "_" is a pause


@dataclass(frozen=True)
class AudioContext:
    """The audio around a piece of streamed speech. A stream arrives a frame's worth at a time; the mouth of each
    piece is computed over its neighbours too, so its edges move as the middle of one longer sound would."""

    before: np.ndarray  # already shown
    after: np.ndarray  # arrived, not yet shown


def merge_pauses(events: list[PhonemeEvent]) -> list[PhonemeEvent]:
    """espeak reports a pause as several empty events in a row; keep the first of each run."""
    merged: list[PhonemeEvent] = []
    for event in events:
        if event.phoneme == PAUSE and merged and merged[-1].phoneme == PAUSE:
            continue
        merged.append(event)
    return merged


@dataclass
class SpeechSegment:
    """One sentence (or, for engines that stream inside a sentence, one chunk of it)."""

    samples: np.ndarray  # float32 mono in [-1, 1]
    sample_rate: int
    phonemes: list[PhonemeEvent] | None  # times from the segment's start; None when the engine gives none
    text: str  # what this segment speaks ("" for a chunk that continues the previous segment's sentence)
    spoken: str = ""  # `text` as the engine was given it: numbers, dates, addresses in words
    voice_matched: bool = False  # the embedded engine moved its voice toward the reference
    voice_cloned: bool = False  # a cloning engine (XTTS) spoke in the reference voice
    seconds: float = 0.0  # time the engine spent making it

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate


@dataclass
class Speech:
    """A whole clip: the segments of a stream joined."""

    samples: np.ndarray
    sample_rate: int
    phonemes: list[PhonemeEvent] | None
    voice_matched: bool = False
    voice_cloned: bool = False
    synth_s: float = 0.0
    spoken: list[str] = field(default_factory=list)  # each sentence as it was said

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate


class TTSEngine(Protocol):
    name: str
    languages: frozenset[str]

    @property
    def sample_rate(self) -> int: ...

    def stream(
        self, text: str, language: str, voice: AssetReference | None, *, match_voice: bool
    ) -> Iterator[SpeechSegment]:
        """Segments in order, each as soon as it is ready. Closing the iterator releases everything it holds."""
        ...


def cancel_speech(segments: Iterator[SpeechSegment] | None) -> None:
    """Stop a stream's synthesis in progress, from any thread, if its engine can (Kokoro's can; others finish the
    sentence in hand and stop at the next)."""
    cancel = getattr(segments, "cancel", None)
    if callable(cancel):
        cancel()


def close_speech(segments: object) -> None:
    """Release what a stream (or a stream of streams) holds, its generator's cleanup, if it can be closed."""
    close = getattr(segments, "close", None)
    if callable(close):
        close()


class SpeechChain:
    """One stream's segments after another's (each made when reached); cancel() reaches the one being synthesized,
    so a sentence nobody will hear stops taking the cores (Prefetch calls it when its consumer leaves)."""

    def __init__(self, streams: Iterator[Iterator[SpeechSegment]]) -> None:
        self._streams = streams
        self._current: Iterator[SpeechSegment] | None = None
        self._cancelled = False

    def __iter__(self) -> Iterator[SpeechSegment]:
        return self

    def __next__(self) -> SpeechSegment:
        while not self._cancelled:
            if self._current is None:
                self._current = next(self._streams)  # none left: the chain ends
            try:
                return next(self._current)
            except StopIteration:
                self._close_current()
        raise StopIteration

    def cancel(self) -> None:
        self._cancelled = True
        cancel_speech(self._current)

    def close(self) -> None:
        self._cancelled = True
        self._close_current()
        close_speech(self._streams)

    def _close_current(self) -> None:
        current, self._current = self._current, None
        close_speech(current)


def join_segments(segments: Iterable[SpeechSegment], sample_rate: int) -> Speech:
    """The whole clip from a segment stream: samples concatenated, phoneme times shifted onto one clock."""
    pieces: list[np.ndarray] = []
    phonemes: list[PhonemeEvent] = []
    spoken: list[str] = []
    has_timeline, matched, cloned, offset = False, False, False, 0
    started = time.perf_counter()
    for segment in segments:
        if segment.phonemes is not None:
            has_timeline = True
            start = offset / sample_rate
            phonemes.extend(PhonemeEvent(start + event.t, event.phoneme) for event in segment.phonemes)
        pieces.append(segment.samples)
        spoken += [segment.spoken] if segment.spoken else []
        matched, cloned = matched or segment.voice_matched, cloned or segment.voice_cloned
        offset += len(segment.samples)
    return Speech(
        samples=np.concatenate(pieces) if pieces else np.zeros(0, np.float32),
        sample_rate=sample_rate,
        phonemes=phonemes if has_timeline else None,
        voice_matched=matched,
        voice_cloned=cloned,
        synth_s=time.perf_counter() - started,
        spoken=spoken,
    )


def synthesize(
    engine: TTSEngine, text: str, language: str, voice: AssetReference | None, *, match_voice: bool
) -> Speech:
    """Whole-text synthesis: the engine's stream, consumed to the end."""
    segments = engine.stream(text, language, voice, match_voice=match_voice)
    try:
        return join_segments(segments, engine.sample_rate)
    finally:
        segments.close()  # type: ignore[attr-defined]


class AvatarSession(Protocol):
    """Opened per (portrait, fps, size). Carries blink schedule, head-pose phase and mouth state across calls.

    Frames are read, never written into: a frame that would look as the previous one does may be the same array.
    """

    fps: int
    size: int
    photo: np.ndarray  # the framed portrait, (size, size, 3)

    def speak(
        self,
        samples: np.ndarray,
        sample_rate: int,
        phonemes: list[PhonemeEvent] | None,
        context: AudioContext | None = None,
    ) -> Iterator[np.ndarray]:
        """One frame per 1/fps of `samples` (a whole number of frames' worth), the mouth following the speech."""
        ...

    def idle(self, seconds: float) -> Iterator[np.ndarray]:
        """Silence: blinks, breathing, slight head motion, closed mouth."""
        ...


class AvatarEngine(Protocol):
    name: str

    def open_session(self, portrait: AssetReference, *, fps: int, size: int, seed: int = 0) -> AvatarSession: ...


@dataclass
class Rendered:
    path: Path
    frames: int
    fps: int
    size: int
    duration_s: float
    timings: dict[str, float] = field(default_factory=dict)
