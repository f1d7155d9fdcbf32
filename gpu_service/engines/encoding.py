"""Frames to MP4 for every avatar engine: frames are made in a worker thread while the encoder runs."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.prefetch import prefetch
from common.video import write_mp4
from gpu_service.engines.base import Rendered, Speech


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


def encode_rendered(
    out: Path, frames: Iterable[np.ndarray], speech: Speech, *, fps: int, size: int, timings: dict[str, float]
) -> Rendered:
    """Write the frames and the speech to `out`; the timings gain render_s and encode_s."""
    clock = StageClock()
    started = time.perf_counter()
    count = write_mp4(out, prefetch(clock.timed(frames)), fps, speech.samples, speech.sample_rate)
    return Rendered(
        path=out,
        frames=count,
        fps=fps,
        size=size,
        duration_s=count / fps,
        timings={
            **timings,
            "render_s": clock.seconds,  # in a worker thread, overlapping the encoder
            "encode_s": time.perf_counter() - started,  # wall time from the first frame to the finished file
        },
    )
