"""Utterances out of a live stream of PCM: Silero VAD frame by frame, with the state carried between frames.

faster-whisper's VAD looks at a whole recording at once; live audio needs the same model fed 32 ms at a time, and
a small state machine: speech starts after a few voiced frames, the utterance ends after `end_silence_s` without
voice (or at `max_utterance_s`), and then the utterance's audio is handed over for transcription.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np

from gpu_service.engines.asr.transcriber import RATE, Transcript

WINDOW = 512  # samples per VAD frame at 16 kHz (32 ms): what Silero's model takes
CONTEXT = 64  # samples of the previous frame it looks back at
PADDING_S = 0.2  # audio kept before the first voiced frame (consonants start quietly)


@dataclass(frozen=True)
class SpeechStarted:
    at_s: float  # stream time of the first voiced frame


@dataclass(frozen=True)
class VoiceHeard:
    """A first voiced frame: maybe speech (confirmed by SpeechStarted), maybe a cough (then VoiceFaded)."""

    at_s: float


@dataclass(frozen=True)
class VoiceFaded:
    """The voice heard stopped before it counted as speech."""


@dataclass(frozen=True)
class SpeechPaused:
    """Voice stopped for `pause_s`: the utterance may be over. Its audio so far, to transcribe ahead of the end."""

    start_s: float
    end_s: float  # where the voice stopped: an UtteranceEnded with the same end_s means nothing was said since
    audio: np.ndarray


@dataclass(frozen=True)
class UtteranceEnded:
    start_s: float
    end_s: float
    audio: np.ndarray  # float32 at 16 kHz, with PADDING_S before the speech


@dataclass(frozen=True)
class Transcribed:
    start_s: float
    end_s: float
    transcript: Transcript
    transcribe_s: float  # from the end of the utterance to its transcript


class SileroStream:
    """Silero VAD over consecutive 32 ms frames, its recurrent state kept between calls."""

    def __init__(self) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.inter_op_num_threads = options.intra_op_num_threads = 1
        options.log_severity_level = 4
        path = resources.files("faster_whisper") / "assets" / "silero_vad_v6.onnx"
        self._session: Any = onnxruntime.InferenceSession(
            str(path), providers=["CPUExecutionProvider"], sess_options=options
        )
        self.reset()

    def reset(self) -> None:
        self._h = np.zeros((1, 1, 128), np.float32)
        self._c = np.zeros((1, 1, 128), np.float32)
        self._context = np.zeros(CONTEXT, np.float32)

    def probability(self, frame: np.ndarray) -> float:
        """Speech probability of one WINDOW-sample frame."""
        batch = np.concatenate([self._context, frame.astype(np.float32)])[None, :]
        output, self._h, self._c = self._session.run(None, {"input": batch, "h": self._h, "c": self._c})
        self._context = frame[-CONTEXT:].astype(np.float32)
        return float(np.asarray(output).reshape(-1)[0])


Event = VoiceHeard | VoiceFaded | SpeechStarted | SpeechPaused | UtteranceEnded


class UtteranceDetector:
    """feed() PCM (float32, 16 kHz, any chunk size); get SpeechStarted and UtteranceEnded events back."""

    def __init__(
        self,
        vad: SileroStream,
        end_silence_s: float = 0.5,
        threshold: float = 0.5,
        start_frames: int = 3,  # ~100 ms of voice before "speech started": a cough or click is not speech
        max_utterance_s: float = 30.0,
        pause_s: float | None = None,  # also tell when the voice has stopped this long (SpeechPaused)
    ) -> None:
        self.vad = vad
        self.threshold = threshold
        self.start_frames = start_frames
        self.end_frames = max(1, round(end_silence_s * RATE / WINDOW))
        self.max_frames = round(max_utterance_s * RATE / WINDOW)
        self.pause_frames = max(1, round(pause_s * RATE / WINDOW)) if pause_s else None
        self._pending = np.zeros(0, np.float32)
        self._frames: list[np.ndarray] = []  # the utterance so far (and, before it starts, the padding)
        self._frame_index = 0
        self._voiced_run = 0
        self._silent_run = 0
        self._speaking = False
        self._start_frame = 0

    def feed(self, samples: np.ndarray) -> list[Event]:
        self._pending = np.concatenate([self._pending, samples.astype(np.float32)])
        events: list[Event] = []
        while len(self._pending) >= WINDOW:
            frame, self._pending = self._pending[:WINDOW], self._pending[WINDOW:]
            if (event := self._step(frame)) is not None:
                events.append(event)
        return events

    def _step(self, frame: np.ndarray) -> Event | None:
        voiced = self.vad.probability(frame) >= self.threshold
        index = self._frame_index
        self._frame_index += 1
        self._frames.append(frame)
        if not self._speaking:
            run = self._voiced_run
            self._voiced_run = run + 1 if voiced else 0
            keep = round(PADDING_S * RATE / WINDOW) + self.start_frames
            self._frames = self._frames[-keep:]
            if self._voiced_run >= self.start_frames:
                self._speaking, self._silent_run = True, 0
                self._start_frame = index - self.start_frames + 1
                return SpeechStarted(self._start_frame * WINDOW / RATE)
            if self._voiced_run == 1:
                return VoiceHeard(index * WINDOW / RATE)
            return VoiceFaded() if run and not voiced else None
        self._silent_run = 0 if voiced else self._silent_run + 1
        if self._silent_run >= self.end_frames or len(self._frames) >= self.max_frames:
            return self._end(index + 1 - self._silent_run)
        if self._silent_run == self.pause_frames:
            end_s = (index + 1 - self._silent_run) * WINDOW / RATE
            return SpeechPaused(self._start_frame * WINDOW / RATE, end_s, np.concatenate(self._frames))
        return None

    @property
    def pause_end_s(self) -> float | None:
        """Where the voice stopped, while an utterance is under way and silent; None otherwise."""
        if not self._speaking or not self._silent_run:
            return None
        return (self._frame_index - self._silent_run) * WINDOW / RATE

    def end_now(self) -> UtteranceEnded | None:
        """End the utterance in its pause, before the silence that would end it (what was said is known to be a
        finished sentence); None when no utterance is under way or the voice is back."""
        if self.pause_end_s is None:
            return None
        return self._end(self._frame_index - self._silent_run)

    def _end(self, end_frame: int) -> UtteranceEnded:
        audio = np.concatenate(self._frames)
        event = UtteranceEnded(self._start_frame * WINDOW / RATE, end_frame * WINDOW / RATE, audio)
        self._frames, self._speaking, self._voiced_run, self._silent_run = [], False, 0, 0
        return event


class StreamingRecognizer:
    """The detector, with each finished utterance transcribed: what a live session's microphone track feeds."""

    def __init__(self, detector: UtteranceDetector, transcribe: Callable[[np.ndarray, None, bool], Transcript]) -> None:
        self.detector = detector
        self.transcribe = transcribe

    def feed(self, samples: np.ndarray) -> list[SpeechStarted | Transcribed]:
        import time

        out: list[SpeechStarted | Transcribed] = []
        for event in self.detector.feed(samples):
            if isinstance(event, SpeechStarted):
                out.append(event)
            if not isinstance(event, UtteranceEnded):
                continue
            started = time.perf_counter()
            transcript = self.transcribe(event.audio, None, False)  # already cut to speech: no second VAD
            out.append(Transcribed(event.start_s, event.end_s, transcript, time.perf_counter() - started))
        return out
