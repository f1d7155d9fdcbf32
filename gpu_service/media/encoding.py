"""A whole clip to a (non-fragmented, faststart) MP4 through an avatar session: frames are made in a worker
thread while the encoder runs. POST /api/v1/avatar uses it; streams use the fragmented writer instead."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.concurrency.prefetch import prefetch
from common.media.video import write_mp4
from gpu_service.engines.base import AvatarSession, Rendered, Speech
from gpu_service.media.frames import AudioFramer


@dataclass
class StageClock:
    """Seconds spent making frames; frames come from a generator that adds to it."""

    seconds: float = 0.0

    def timed(self, frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        iterator = iter(frames)
        while True:
            tick = time.perf_counter()
            frame = next(iterator, None)
            self.seconds += time.perf_counter() - tick
            if frame is None:
                return
            yield frame


def whole_frames(samples: np.ndarray, sample_rate: int, fps: int) -> np.ndarray:
    """`samples` padded with silence to a whole number of frames."""
    framer = AudioFramer(sample_rate, fps)
    return np.concatenate([framer.take(samples).samples, framer.flush().samples])


def render_clip(session: AvatarSession, speech: Speech, out: Path, timings: dict[str, float]) -> Rendered:
    """The session speaks the whole clip into `out`; the timings gain render_s and encode_s."""
    audio = whole_frames(speech.samples, speech.sample_rate, session.fps)
    clock = StageClock()
    started = time.perf_counter()
    frames = session.speak(audio, speech.sample_rate, speech.phonemes)
    count = write_mp4(out, prefetch(clock.timed(frames)), session.fps, audio, speech.sample_rate)
    return Rendered(
        path=out,
        frames=count,
        fps=session.fps,
        size=session.size,
        duration_s=count / session.fps,
        timings={
            **timings,
            "render_s": clock.seconds,  # in a worker thread, overlapping the encoder
            "encode_s": time.perf_counter() - started,  # wall time from the first frame to the finished file
        },
    )
