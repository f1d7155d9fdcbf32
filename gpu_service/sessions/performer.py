"""A live session's picture and sound, made ahead of playback in one thread.

Each tick is one video frame and the audio that plays during it (48 kHz, WebRTC's Opus rate). Idle motion when
nothing is said; a speech stream when asked; an interruption drops what was made ahead and returns to idle at once.
At most AHEAD ticks wait: that bounds both the delay before new speech is seen and what an interruption discards.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import av
import numpy as np
import soxr

from common.concurrency.prefetch import Prefetch, prefetch
from common.media.video import yuv420_frame
from gpu_service.engines.base import AvatarSession, PhonemeEvent, SpeechSegment
from gpu_service.media.frames import AudioFramer, FramedAudio
from gpu_service.speaking import shifted

log = logging.getLogger("gpu_service.sessions")
OUTPUT_RATE = 48_000
AHEAD = 4  # ticks made before they play: 160 ms at 25 fps
IDLE_FRAMES = 5  # idle motion is asked for in short runs, so an order starts soon
WAIT_S = 0.02
SEGMENTS_AHEAD = 2  # speech segments made ahead of the one being rendered
POLL_S = 0.005  # a wait for the next segment this long, then an idle frame (the queue of ticks paces it)


@dataclass(frozen=True)
class Tick:
    picture: av.VideoFrame  # yuv420p, size x size
    audio: np.ndarray  # float32 mono at OUTPUT_RATE, one frame's worth
    speaking: bool
    generation: int  # made for this generation of work: an older one was interrupted
    on_sent: Callable[[], None] | None = None  # the first tick of an order's speech: called when it goes out


@dataclass
class Order:
    speech: Iterator[SpeechSegment]
    sample_rate: int
    on_segment: Callable[[str], None]  # a segment starts being made (its text; "" for a continuation)
    on_end: Callable[[bool], None]  # True: said to the end; False: interrupted or failed
    on_first_sent: Callable[[], None] = lambda: None  # its first tick of speech goes out to the peer
    on_sentence_sent: Callable[[str], None] = lambda _: None  # a sentence's first tick goes out (its text)


class Performer:
    def __init__(self, session: AvatarSession) -> None:
        self.session = session
        self.fps = session.fps
        self._ticks: queue.Queue[Tick] = queue.Queue(maxsize=AHEAD)
        self._orders: queue.Queue[Order] = queue.Queue()
        self._generation = 0  # bumped by interrupt(): work of an older generation stops
        self._stopped = threading.Event()
        self._speaking = threading.Event()
        self._held = threading.Event()  # the user may be starting to speak: nothing plays until resume()
        self._silence = np.zeros(OUTPUT_RATE // self.fps, np.float32)
        self._image: np.ndarray | None = None  # the last image converted, and its frame
        self._picture: av.VideoFrame | None = None
        self._thread = threading.Thread(target=self._run, name="session-performer", daemon=True)
        self._thread.start()

    @property
    def speaking(self) -> bool:
        return self._speaking.is_set()

    @property
    def queued(self) -> int:
        """Orders waiting for the one being said."""
        return self._orders.qsize()

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
        self._held.clear()
        return was_speaking

    def hold(self) -> None:
        """Fall silent at once, keeping what was made: the first voiced sound from the user may be speech (then
        interrupt()) or a cough (then resume()). Waiting for the proof would let the avatar talk over them."""
        if self.speaking:
            self._held.set()

    def resume(self) -> None:
        self._held.clear()

    def next_tick(self) -> Tick | None:
        """The next tick if one is ready (the tracks repeat the last frame with silence otherwise)."""
        if self._held.is_set():
            return None
        try:
            while (tick := self._ticks.get_nowait()).generation != self._generation:
                continue  # made before an interruption (a put that was under way when the queue was drained)
            return tick
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

    def _put(self, tick: Tick, generation: int, give_way: Callable[[], bool] | None = None) -> bool:
        """Wait for room; False when the work was interrupted or the session ended meanwhile, or, for an idle tick
        (`give_way`), as soon as what it waits for is there: speech must not wait for room behind idle motion (a
        tick's 40 ms, on every reply's and say's way to its first sound)."""
        while not self._stopped.is_set() and generation == self._generation:
            if give_way is not None and give_way():
                return False
            try:
                self._ticks.put(tick, timeout=WAIT_S if give_way is None else POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        while not self._stopped.is_set():
            try:
                order = self._orders.get_nowait()
            except queue.Empty:
                generation = self._generation
                for frame in self.session.idle(IDLE_FRAMES / self.fps):
                    tick = Tick(self._frame_of(frame), self._silence, False, generation)
                    if not self._put(tick, generation, give_way=self._has_order):
                        break
                continue
            self._perform(order)

    def _perform(self, order: Order) -> None:
        generation = self._generation
        self._speaking.set()
        completed = False
        segments = prefetch(order.speech, SEGMENTS_AHEAD)
        try:
            completed = self._speak(segments, order, generation)
        except Exception:
            log.exception("a live session's speech failed")
        finally:
            segments.close(wait=False)  # stops the TTS (and a reply's model) without holding up the picture
            self._speaking.clear()
            order.on_end(completed)

    def _speak(self, segments: Prefetch[SpeechSegment], order: Order, generation: int) -> bool:
        framer = AudioFramer(OUTPUT_RATE, self.fps)
        # Called when the next tick of speech goes out: the order's first, then each sentence's (a segment too short
        # for a frame of its own carries its sentence's call to the next one).
        due: list[Callable[[], None]] = [order.on_first_sent]
        while True:
            if generation != self._generation or self._stopped.is_set():
                return False
            try:
                ready = segments.poll(POLL_S)
            except StopIteration:
                break
            if not ready:  # the model is still writing: the face idles meanwhile instead of freezing
                if not self._play(framer.flush(), None, generation):
                    return False
                self._idle_frame(generation, give_way=segments.ready)
                continue
            segment = ready[0]
            order.on_segment(segment.text)
            if segment.text:
                due.append(functools.partial(order.on_sentence_sent, segment.text))
            samples = soxr.resample(segment.samples, segment.sample_rate, OUTPUT_RATE).astype(np.float32)
            carried = framer.carried_s  # the previous segment's tail plays first
            self._drop_idle()  # speech plays next, not after the idle motion made ahead
            framed = framer.take(samples)
            if not self._play(framed, shifted(segment.phonemes, carried), generation, _calling(due)):
                return False
            due = due if not framed.frames else []
        return self._play(framer.flush(), None, generation, _calling(due)) and generation == self._generation

    def _play(
        self,
        framed: FramedAudio,
        phonemes: list[PhonemeEvent] | None,
        generation: int,
        on_first_sent: Callable[[], None] | None = None,
    ) -> bool:
        if not framed.frames:
            return True
        for index, frame in enumerate(self.session.speak(framed.samples, OUTPUT_RATE, phonemes)):
            sent = on_first_sent if index == 0 else None
            tick = Tick(self._frame_of(frame), framed.frame_audio(index), True, generation, sent)
            if not self._put(tick, generation):
                return False
        return True

    def _idle_frame(self, generation: int, give_way: Callable[[], bool]) -> None:
        frame = next(iter(self.session.idle(1 / self.fps)))
        self._put(Tick(self._frame_of(frame), self._silence, False, generation), generation, give_way)

    def _has_order(self) -> bool:
        return not self._orders.empty()

    def _frame_of(self, image: np.ndarray) -> av.VideoFrame:
        """The encoder's frame for `image`: the same frame again when the session repeats its last image (a still
        face), which spares the conversion."""
        if image is not self._image or self._picture is None:
            self._image, self._picture = image, yuv420_frame(image)
        return self._picture

    def _drop_idle(self) -> None:
        """Idle ticks waiting at the end of the queue are dropped (a 160 ms skip in idle motion is not seen)."""
        with self._ticks.mutex:
            while self._ticks.queue and not self._ticks.queue[-1].speaking:
                self._ticks.queue.pop()
            self._ticks.not_full.notify_all()


def _calling(calls: list[Callable[[], None]]) -> Callable[[], None] | None:
    """One callback that makes each of `calls` in order (None when there are none)."""
    if not calls:
        return None
    waiting = list(calls)

    def call_all() -> None:
        for call in waiting:
            call()

    return call_all
