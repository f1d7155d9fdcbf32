"""The segment step: text -> speech segments -> video frames -> fragmented-MP4 bytes, stages overlapped.

TTS runs ahead in its own thread (sentence k+1 is synthesized while sentence k renders), frames are rendered in
another while this one encodes. The bytes go to the caller as fragments complete and to a file under the output
root, which appears under its final name only when the stream ended well. Each segment is an event as it goes into
the video (gpu_service.progress); the record of how it went (`<id>.json`, served by GET /api/v1/speak/{id}) is
written once, at the end. Closing the iterator early (a client that left) stops every stage and releases what they
hold, the engines included.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path

from common.concurrency.prefetch import prefetch
from common.storage.files import atomic_target
from contracts.gpu_service import SegmentTiming, SpeakResult
from gpu_service.engines.base import AvatarSession, PhonemeEvent, SpeechSegment
from gpu_service.media.encoding import StageClock
from gpu_service.media.fmp4 import FragmentedMp4Writer
from gpu_service.media.frames import AudioFramer, FramedAudio
from gpu_service.progress import SpeakProgress
from gpu_service.text import join_sentences

log = logging.getLogger("gpu_service.speak")
TTS_LOOKAHEAD = 2  # segments synthesized ahead of the one being rendered


@dataclass
class SpeakPlan:
    speech: Iterator[SpeechSegment]  # a TTS stream, or a reply's sentences spoken as the model writes them
    sample_rate: int
    session: AvatarSession
    video_path: Path  # where the complete file appears
    result: SpeakResult  # updated as the stream goes; saved beside the video when it ends
    progress: SpeakProgress  # its followers hear of each segment as it goes into the video
    release: Callable[[], None] = lambda: None  # lets go of the engines, once the stream has ended

    @property
    def result_path(self) -> Path:
        return result_path_for(self.video_path)


def result_path_for(video_path: Path) -> Path:
    return video_path.with_suffix(".json")


def save_result(plan: SpeakPlan) -> None:
    with atomic_target(plan.result_path) as partial:
        partial.write_text(plan.result.model_dump_json())


def load_result(video_path: Path) -> SpeakResult | None:
    try:
        return SpeakResult.model_validate_json(result_path_for(video_path).read_bytes())
    except FileNotFoundError:
        return None


def speak_fragments(plan: SpeakPlan, started: float) -> Generator[bytes, None, None]:
    """The stream's bytes: the header, then one fragment after another."""
    result, session = plan.result, plan.session
    sample_rate = plan.sample_rate
    writer = FragmentedMp4Writer(session.fps, session.size, sample_rate)
    framer = AudioFramer(sample_rate, session.fps)
    clock = StageClock()
    partial = plan.video_path.with_suffix(".mp4.part")
    partial.parent.mkdir(parents=True, exist_ok=True)
    segments = prefetch(plan.speech, TTS_LOOKAHEAD)
    finished = False

    def encode(framed: FramedAudio, phonemes: list[PhonemeEvent] | None) -> Iterator[bytes]:
        if not framed.frames:
            return
        frames = prefetch(clock.timed(session.speak(framed.samples, sample_rate, phonemes)))
        try:
            for index, image in enumerate(frames):
                data = writer.write(image, framed.frame_audio(index), segment_start=index == 0)
                if data:
                    yield data
        finally:
            frames.close()

    try:
        with partial.open("wb") as sink:

            def emit(data: bytes) -> bytes:
                sink.write(data)
                if not result.timings.first_fragment_s and b"moof" in data:
                    result.timings.first_fragment_s = time.perf_counter() - started
                return data

            for segment in segments:
                result.timings.tts_s += segment.seconds
                result.voice_matched |= segment.voice_matched
                result.voice_cloned |= segment.voice_cloned
                carried = framer.carried_s  # the previous segment's tail plays first
                framed = framer.take(segment.samples)
                start_s = framed.first_frame / session.fps + carried
                timing = SegmentTiming(
                    text=segment.text, spoken=segment.spoken, start_s=start_s, duration_s=segment.duration_s
                )
                result.segments.append(timing)
                result.spoken_text = join_sentences([timing.spoken for timing in result.segments if timing.spoken])
                plan.progress.segment(timing, result.reply)
                phonemes = shifted(segment.phonemes, carried)
                yield from (emit(data) for data in encode(framed, phonemes))
            yield from (emit(data) for data in encode(framer.flush(), None))
            yield emit(writer.close())
        partial.rename(plan.video_path)
        finished = True
        result.status, result.video_path = "done", str(plan.video_path)
    except Exception as exc:
        result.status, result.error = "failed", f"{type(exc).__name__}: {exc}"
        log.exception("speak %s failed", result.id)
        raise
    finally:
        segments.close()
        if not finished:
            writer.abort()
            with contextlib.suppress(OSError):
                partial.unlink(missing_ok=True)
            if result.status == "running":
                result.status, result.error = "failed", "stopped before the end: the client went away"
        result.frames = writer.frames
        result.duration_s = writer.frames / session.fps
        result.timings.render_s = clock.seconds
        result.timings.total_s = time.perf_counter() - started
        plan.release()
        with contextlib.suppress(OSError):  # a full disk must not hide why the stream ended
            save_result(plan)
        plan.progress.end(result)


def shifted(phonemes: list[PhonemeEvent] | None, seconds: float) -> list[PhonemeEvent] | None:
    if phonemes is None or not seconds:
        return phonemes
    return [PhonemeEvent(event.t + seconds, event.phoneme) for event in phonemes]
