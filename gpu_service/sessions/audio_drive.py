"""What an audio-driven avatar shows next, from the audio received so far (state only: the stream calls it on its
event loop and renders what it returns elsewhere).

Speech frames are made as soon as their audio (and a little after it) has arrived, ahead of the wall clock if the
agent sends faster than real time, never ahead of the audio. Idle frames are made when they are due on the wall
clock. Mid-utterance, audio that is late by LATE_S lets a silent frame through (the picture goes on instead of
freezing); no audio for UTTERANCE_GAP_S ends the utterance as `end_of_speech` would.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from gpu_service.engines.base import AudioContext

CONTEXT_S = 0.2  # audio already shown that a piece's mouth is computed with
LOOKAHEAD_S = 0.02  # audio after a piece waited for before it is shown (not at an utterance's end)
LATE_S = 0.2  # mid-utterance, the next frame's audio this late on the wall clock: a silent frame goes out
UTTERANCE_GAP_S = 0.6  # no audio for this long: the utterance is over
REBASE_S = 0.5  # idle frames this far behind the wall clock (a slow machine, a long pause): skip ahead


@dataclass(frozen=True)
class Piece:
    pts: int  # the frame's index on the stream
    samples: np.ndarray  # float32, the audio shown with this frame (silence when idle)
    context: AudioContext | None  # None: an idle frame
    event: Literal["speaking", "idle"] | None  # what starts at this frame


class AudioDrive:
    def __init__(self, sample_rate: int, fps: int) -> None:
        self.sample_rate, self.fps = sample_rate, fps
        self.pts = 0  # the next frame's index
        self._origin_s = 0.0  # wall-clock seconds (from the stream's start) of frame 0
        self._pending = np.zeros(0, np.float32)  # received, not yet shown
        self._odd_byte = b""  # a PCM16 sample split between two messages
        self._history = np.zeros(0, np.float32)  # shown lately (context for the next piece)
        self._in_utterance = False
        self._ended = False  # end_of_speech: what is pending is all of this utterance
        self._last_audio_s = 0.0

    @property
    def pending_s(self) -> float:
        return len(self._pending) / self.sample_rate

    @property
    def speaking(self) -> bool:
        return self._in_utterance

    def push(self, pcm16: bytes, now_s: float) -> None:
        data = self._odd_byte + pcm16
        whole = len(data) - len(data) % 2
        self._odd_byte = data[whole:]
        samples = np.frombuffer(data[:whole], "<i2").astype(np.float32) / 32768.0
        self._pending = np.concatenate([self._pending, samples])
        self._ended = False
        self._last_audio_s = now_s

    def end_of_speech(self) -> None:
        self._odd_byte = b""
        self._ended = True

    def clear(self, now_s: float) -> None:
        """Drop what was not shown; the next frame is idle and due now."""
        self._pending = np.zeros(0, np.float32)
        self._odd_byte = b""
        self._history = np.zeros(0, np.float32)
        self._ended = False
        self._in_utterance = False
        self._origin_s = now_s - self.pts / self.fps

    def next_piece(self, now_s: float) -> Piece | None:
        """The next frame to make, or None when it must wait (for audio, or for the wall clock)."""
        need = self._frame_samples()
        lookahead = 0 if self._ended else round(LOOKAHEAD_S * self.sample_rate)
        if len(self._pending) >= need + lookahead or (self._ended and len(self._pending)):
            return self._speech(need)
        late_s = now_s - self._due_s()
        if self._in_utterance:
            if self._ended or now_s - self._last_audio_s >= UTTERANCE_GAP_S:
                self._in_utterance = self._ended = False
                self._history = np.zeros(0, np.float32)
                return self._idle("idle")
            if late_s >= LATE_S:
                return self._speech(need)  # what has come, padded with silence
            return None
        if late_s < 0:
            return None
        if late_s > REBASE_S:
            self._origin_s = now_s - self.pts / self.fps
        return self._idle(None)

    def wait_s(self, now_s: float) -> float:
        """How long nothing can change unless audio or a command arrives."""
        due = self._due_s() + (LATE_S if self._in_utterance else 0.0)
        return max(0.0, due - now_s)

    def _due_s(self) -> float:
        return self._origin_s + self.pts / self.fps

    def _frame_samples(self) -> int:
        edge = round(self.pts * self.sample_rate / self.fps)
        return round((self.pts + 1) * self.sample_rate / self.fps) - edge

    def _speech(self, need: int) -> Piece:
        taken = self._pending[:need]
        samples = np.pad(taken, (0, need - len(taken)))
        self._pending = self._pending[need:]
        after = self._pending[: round(LOOKAHEAD_S * self.sample_rate)]
        context = AudioContext(before=self._history, after=after)
        self._history = np.concatenate([self._history, samples])[-round(CONTEXT_S * self.sample_rate) :]
        event: Literal["speaking"] | None = None if self._in_utterance else "speaking"
        self._in_utterance = True
        return self._advance(Piece(self.pts, samples, context, event))

    def _idle(self, event: Literal["idle"] | None) -> Piece:
        return self._advance(Piece(self.pts, np.zeros(self._frame_samples(), np.float32), None, event))

    def _advance(self, piece: Piece) -> Piece:
        self.pts += 1
        return piece
