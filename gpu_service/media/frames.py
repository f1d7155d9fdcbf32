"""Audio cut into video frames: each frame carries exactly the samples that play during it.

Segments rarely end on a frame boundary (XTTS chunks end anywhere); the remainder is carried into the next
segment, so audio and video stay aligned to the sample however many segments a stream has.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FramedAudio:
    samples: np.ndarray  # float32 mono, exactly `frames` frames' worth
    first_frame: int  # on the stream's clock
    frames: int
    edges: np.ndarray  # (frames + 1,) sample offsets of each frame in `samples`

    def frame_audio(self, index: int) -> np.ndarray:
        return self.samples[self.edges[index] : self.edges[index + 1]]


class AudioFramer:
    """Takes audio in pieces of any length, gives it back in whole frames' worth."""

    def __init__(self, sample_rate: int, fps: int) -> None:
        self.sample_rate, self.fps = sample_rate, fps
        self.frames = 0  # frames handed out so far
        self._carry = np.zeros(0, np.float32)

    @property
    def carried_s(self) -> float:
        """Seconds of audio held back from earlier pieces (they play before the next piece)."""
        return len(self._carry) / self.sample_rate

    def take(self, samples: np.ndarray) -> FramedAudio:
        """The carried audio and `samples`, up to the last whole frame; the rest waits for the next piece."""
        pending = np.concatenate([self._carry, np.asarray(samples, np.float32)])
        start = self._sample(self.frames)
        whole = int((start + len(pending)) * self.fps // self.sample_rate) - self.frames
        while whole > 0 and self._sample(self.frames + whole) - start > len(pending):
            whole -= 1
        return self._hand_out(pending, max(0, whole))

    def flush(self) -> FramedAudio:
        """What is left, padded with silence to a whole frame (no frames if nothing is left)."""
        if not len(self._carry):
            return self._hand_out(self._carry, 0)
        need = self._sample(self.frames + 1) - self._sample(self.frames)
        return self._hand_out(np.pad(self._carry, (0, max(0, need - len(self._carry)))), 1)

    def _hand_out(self, pending: np.ndarray, frames: int) -> FramedAudio:
        edges = np.array([self._sample(self.frames + k) for k in range(frames + 1)], np.int64)
        edges -= edges[0]
        framed = FramedAudio(pending[: edges[-1]], self.frames, frames, edges)
        self._carry = pending[edges[-1] :]
        self.frames += frames
        return framed

    def _sample(self, frame: int) -> int:
        return round(frame * self.sample_rate / self.fps)
