"""A live session's performer on the real animator: the face idles while a reply is still being written, speech
follows as soon as its first segment exists, and an interruption returns to idle without waiting for the writer."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from aiortc.codecs.vpx import Vp8Encoder, VpxPayloadDescriptor

from gpu_service.assets import AssetReference
from gpu_service.config import DEFAULT_ASSETS
from gpu_service.engines.avatar.animator import AnimatorEngine
from gpu_service.engines.avatar.face import FaceAnalyzer
from gpu_service.engines.base import SpeechSegment
from gpu_service.sessions.performer import Order, Performer, Tick
from gpu_service.sessions.tracks import AUDIO_SAMPLES, AvatarVideoTrack, Timeline

PORTRAIT = AssetReference("astronaut", DEFAULT_ASSETS / "images" / "astronaut.png")
RATE = 16_000


def tone(seconds: float) -> SpeechSegment:
    t = np.arange(int(seconds * RATE)) / RATE
    return SpeechSegment((0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), RATE, None, "a sentence")


def play(performer: Performer, seconds: float) -> list[Tick]:
    """Take ticks as the tracks do, 25 a second."""
    ticks: list[Tick] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if (tick := performer.next_tick()) is not None:
            ticks.append(tick)
        time.sleep(1 / 25)
    return ticks


@pytest.fixture
def performer(tmp_path: Path) -> Iterator[Performer]:
    performer = Performer(AnimatorEngine(FaceAnalyzer(tmp_path)).open_session(PORTRAIT, fps=25, size=256))
    yield performer
    performer.close()


def test_the_face_idles_while_the_reply_is_written_then_speaks(performer: Performer) -> None:
    written = threading.Event()
    ended: list[bool] = []

    def slow_writer() -> Iterator[SpeechSegment]:  # a language model taking 1 s before its first sentence
        written.wait(1.0)
        yield tone(1.0)

    play(performer, 0.5)
    performer.say(Order(slow_writer(), RATE, lambda text: None, ended.append))
    waiting = play(performer, 0.8)
    assert len(waiting) >= 18, "the picture keeps moving while the reply is written"
    assert not any(tick.speaking for tick in waiting)
    # Idle motion is slow (a frame that would barely differ is the last one again): a new picture every few frames.
    assert len({tick.picture.to_ndarray().tobytes() for tick in waiting}) >= 2, "idle motion, not a still"
    written.set()
    speaking = play(performer, 1.5)
    first = next(index for index, tick in enumerate(speaking) if tick.speaking)
    assert first <= 3, f"speech starts {first} ticks after it exists (idle made ahead is dropped)"
    voiced = np.concatenate([tick.audio for tick in speaking if tick.speaking])
    assert abs(len(voiced) / 48_000 - 1.0) <= 0.04 and np.abs(voiced).max() > 0.2
    assert ended == [True]


def test_speech_is_taken_up_without_waiting_for_room_behind_idle_motion(performer: Performer) -> None:
    """Ticks are taken one a frame (40 ms); idle ticks waiting for room must give way to an order, and to a reply's
    first segment once it exists, or every say and reply waits up to a frame longer for its first sound. Nothing
    takes ticks here: the queue is full, so only an idle tick that gives way lets speech begin."""
    written = threading.Event()
    begun: list[str] = []

    def writer() -> Iterator[SpeechSegment]:  # a model still writing when the order is taken up
        written.wait(5.0)
        yield tone(0.5)

    time.sleep(0.3)  # the idle ticks made ahead fill the queue
    performer.say(Order(writer(), RATE, begun.append, lambda completed: None))
    deadline = time.monotonic() + 2.0
    while performer.queued and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not performer.queued, "the order waits behind idle ticks no one has taken"
    written.set()
    while not begun and time.monotonic() < deadline:
        time.sleep(0.01)
    assert begun == ["a sentence"], "the first segment waits behind an idle tick no one has taken"


def test_an_interruption_does_not_wait_for_a_stuck_writer(performer: Performer) -> None:
    ended: list[bool] = []
    release = threading.Event()

    def stuck_writer() -> Iterator[SpeechSegment]:
        yield tone(0.3)
        release.wait(10)  # the model hangs mid-reply
        yield tone(0.3)

    try:
        performer.say(Order(stuck_writer(), RATE, lambda text: None, ended.append))
        play(performer, 0.6)
        performer.interrupt()
        after = play(performer, 0.6)
        assert ended == [False] and len(after) >= 12 and not any(tick.speaking for tick in after)
    finally:
        release.set()


def test_held_speech_waits_silently_and_resumes_where_it_was(performer: Performer) -> None:
    ended: list[bool] = []
    performer.say(Order(iter([tone(1.0)]), RATE, lambda text: None, ended.append))
    before = play(performer, 0.4)
    performer.hold()  # a first voiced frame from the user
    assert play(performer, 0.3) == [], "nothing plays while held"
    performer.resume()  # it was a cough
    after = play(performer, 1.2)
    voiced = np.concatenate([tick.audio for tick in before + after if tick.speaking])
    assert abs(len(voiced) / 48_000 - 1.0) <= 0.04, "all of the speech plays, none lost to the hold"
    assert ended == [True]


def test_nothing_said_before_an_interruption_plays_after_it(performer: Performer) -> None:
    ended: list[bool] = []
    performer.say(Order(iter([tone(3.0)]), RATE, lambda text: None, ended.append))
    play(performer, 0.3)
    performer.hold()  # the queue fills; the performer waits with the next speech tick in hand
    time.sleep(0.3)
    performer.interrupt()  # the user is speaking
    after = play(performer, 0.6)
    assert ended == [False] and len(after) >= 12
    assert not any(tick.speaking for tick in after), "a tick made before the interruption was played after it"


def test_a_hush_silences_the_sound_taken_but_not_yet_sent(performer: Performer) -> None:
    """What the user's first voiced sound stops: the performer's ticks (held) and the part of a tick the audio track
    has not sent yet (up to 40 ms, which went out after the hold before)."""
    timeline = Timeline(performer)
    performer.say(Order(iter([tone(2.0)]), RATE, lambda text: None, lambda completed: None))
    sent, deadline = 0, time.monotonic() + 5
    while time.monotonic() < deadline and not np.abs(timeline.audio_samples(sent, AUDIO_SAMPLES)).max() > 0.2:
        sent += AUDIO_SAMPLES  # the audio track's 20 ms reads, until the tone plays
        time.sleep(0.005)
    sent += AUDIO_SAMPLES
    timeline.video_frame(timeline.taken)  # a tick taken for the picture: its sound is ahead of what was sent
    assert np.abs(timeline.audio_samples(sent, AUDIO_SAMPLES)).max() > 0.2
    sent += AUDIO_SAMPLES
    performer.hold()
    timeline.hush()
    after = np.concatenate([timeline.audio_samples(sent + n * AUDIO_SAMPLES, AUDIO_SAMPLES) for n in range(10)])
    assert np.abs(after).max() == 0.0


def test_a_picture_sent_again_after_a_key_frame_is_not_a_key_frame_again(performer: Performer) -> None:
    """The peer asks for a key frame (a lost packet, a new viewer) and the encoder marks the frame it makes one of. An
    idle face sends the same picture several frames running: each must not be a key frame again (aiortc's VP8
    encoder, as the session's sender uses it)."""
    track, encoder = AvatarVideoTrack(Timeline(performer)), Vp8Encoder()

    async def send(count: int, asked_at: int) -> tuple[list[bool], int]:
        keys, repeated, last = [], 0, None
        for index in range(count):
            frame = await track.recv()
            repeated += frame is last
            last = frame
            payloads, _ = encoder.encode(frame, force_keyframe=index == asked_at)
            _, data = VpxPayloadDescriptor.parse(payloads[0])
            keys.append(data[0] & 1 == 0)  # the VP8 frame tag's first bit: 0 for a key frame
        return keys, repeated

    keys, repeated = asyncio.run(send(30, asked_at=5))
    assert repeated >= 10, "the idle picture is sent again"
    assert keys[0] and keys[5], "the first frame and the one asked for"
    assert not any(keys[6:]), f"key frames at {[index for index, key in enumerate(keys) if key]}"
