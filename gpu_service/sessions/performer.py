"""A live session's picture and sound, made ahead of playback in one thread.

Each tick is one video frame and the audio that plays during it (48 kHz, WebRTC's Opus rate). Idle motion when
nothing is said; a speech stream when asked; an interruption drops what was made ahead and returns to idle at once.
At most AHEAD ticks wait: that bounds both the delay before new speech is seen and what an interruption discards.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import soxr

from gpu_service.engines.base import AvatarSession, SpeechSegment
from gpu_service.media.frames import AudioFramer
from gpu_service.speaking import shifted

log = logging.getLogger("gpu_service.sessions")
OUTPUT_RATE = 48_000
AHEAD = 4  # ticks made before they play: 160 ms at 25 fps
IDLE_FRAMES = 5  # idle motion is asked for in short runs, so an order starts soon
WAIT_S = 0.02


@dataclass(frozen=True)
class Tick:
    frame: np.ndarray  # RGB, (size, size, 3)
    audio: np.ndarray  # float32 mono at OUTPUT_RATE, one frame's worth
    speaking: bool


@dataclass
class Order:
    speech: Iterator[SpeechSegment]
    sample_rate: int
    on_segment: Callable[[str], None]  # a segment starts being made (its text; "" for a continuation)
    on_end: Callable[[bool], None]  # True: said to the end; False: interrupted or failed


class Performer:
    def __init__(self, session: AvatarSession) -> None:
        self.session = session
        self.fps = session.fps
        self._ticks: queue.Queue[Tick] = queue.Queue(maxsize=AHEAD)
        self._orders: queue.Queue[Order] = queue.Queue()
        self._generation = 0  # bumped by interrupt(): work of an older generation stops
        self._stopped = threading.Event()
        self._speaking = threading.Event()
        self._samples_per_frame = OUTPUT_RATE // self.fps
        self._thread = threading.Thread(target=self._run, name="session-performer", daemon=True)
        self._thread.start()

    @property
    def speaking(self) -> bool:
        return self._speaking.is_set()

    def say(self, order: Order) -> None:
        """Speak after what is being said (orders queue; interrupt() clears them)."""
        self._orders.put(order)

    def interrupt(self) -> bool:
        """Stop speaking now: queued orders dropped, ticks made ahead discarded. True if it was speaking."""
        was_speaking = self.speaking or not self._orders.empty()
        self._generation += 1
        with contextlib.suppress(queue.Empty):
            while True:
                self._orders.get_nowait().on_end(False)
        self._drain()
        return was_speaking

    def next_tick(self) -> Tick | None:
        """The next tick if one is ready (the tracks repeat the last frame with silence otherwise)."""
        try:
            return self._ticks.get_nowait()
        except queue.Empty:
            return None

    def close(self) -> None:
        self._stopped.set()
        self.interrupt()
        self._thread.join(timeout=5)

    def _drain(self) -> None:
        with contextlib.suppress(queue.Empty):
            while True:
                self._ticks.get_nowait()

    def _put(self, tick: Tick, generation: int) -> bool:
        """Wait for room; False when the work was interrupted or the session ended meanwhile."""
        while not self._stopped.is_set() and generation == self._generation:
            try:
                self._ticks.put(tick, timeout=WAIT_S)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        silence = np.zeros(self._samples_per_frame, np.float32)
        while not self._stopped.is_set():
            try:
                order = self._orders.get_nowait()
            except queue.Empty:
                generation = self._generation
                for frame in self.session.idle(IDLE_FRAMES / self.fps):
                    if not self._put(Tick(frame, silence, False), generation) or not self._orders.empty():
                        break
                continue
            self._perform(order)

    def _perform(self, order: Order) -> None:
        generation = self._generation
        self._speaking.set()
        completed = False
        try:
            completed = self._speak(order, generation)
        except Exception:
            log.exception("a live session's speech failed")
        finally:
            close = getattr(order.speech, "close", None)
            if close is not None:
                close()  # stops the TTS (and a reply's model) at once
            self._speaking.clear()
            order.on_end(completed)

    def _speak(self, order: Order, generation: int) -> bool:
        framer = AudioFramer(OUTPUT_RATE, self.fps)
        for segment in order.speech:
            if generation != self._generation or self._stopped.is_set():
                return False
            order.on_segment(segment.text)
            samples = soxr.resample(segment.samples, segment.sample_rate, OUTPUT_RATE).astype(np.float32)
            carried = framer.carried_s  # the previous segment's tail plays first
            framed = framer.take(samples)
            if not framed.frames:
                continue
            frames = self.session.speak(framed.samples, OUTPUT_RATE, shifted(segment.phonemes, carried))
            for index, frame in enumerate(frames):
                if not self._put(Tick(frame, framed.frame_audio(index), True), generation):
                    return False
        framed = framer.flush()
        if framed.frames:
            for index, frame in enumerate(self.session.speak(framed.samples, OUTPUT_RATE, None)):
                if not self._put(Tick(frame, framed.frame_audio(index), True), generation):
                    return False
        return generation == self._generation
