"""A live session's microphone: the peer's audio track, resampled to 16 kHz, cut into utterances by Silero VAD.

The first voiced frame silences the avatar (held, in case it is a cough); once it is speech (~100 ms of voice)
the avatar stops (barge-in), otherwise it carries on. Transcription starts early, at the first pause of
GPU_ASR__PAUSE_S, and what was said decides when the turn ends:
- a finished sentence ("... in Paris?") ends it as soon as its transcript is back, if the user is still silent;
- otherwise the utterance ends after GPU_ASR__END_SILENCE_S of silence (the early transcript is its own if nothing
  was said since the pause);
- words that leave the sentence open ("... and", "because", a cut-off word) wait up to GPU_ASR__CONTINUE_S of
  silence: if the user goes on, both parts are one turn.
Turns are handed over in the order they were said.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

import av
import numpy as np
from aiortc import RTCRtpReceiver
from aiortc.jitterbuffer import MAX_MISORDER, JitterBuffer, JitterFrame
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtp import RtpPacket
from aiortc.utils import uint16_add

from contracts.gpu_service import Language
from gpu_service.config import AsrSettings
from gpu_service.engines.asr.streaming import (
    Event,
    SileroStream,
    SpeechPaused,
    SpeechStarted,
    UtteranceDetector,
    UtteranceEnded,
    VoiceFaded,
    VoiceHeard,
)
from gpu_service.engines.asr.transcriber import RATE, Transcriber, Transcript
from gpu_service.sessions.turn_clock import TurnClock
from gpu_service.text import sounds_finished, sounds_unfinished

log = logging.getLogger("gpu_service.sessions")
# aiortc holds 4 packets of incoming audio (80 ms) before passing one on, smoothing playback, and even with none
# held it passes a packet on only once the next has come (that is how it knows a video frame is whole). A listener
# that only detects and transcribes speech takes each packet as it comes: barge-in and the end of a turn are heard
# 80 ms sooner. A packet older than one passed on is dropped: 20 ms of silence to the VAD.
JOINED_MAX_S = 30.0  # a turn joined from open-ended parts is handed over at this length, however it ends


class PacketByPacket(JitterBuffer):
    """An audio receiver's buffer that passes each packet on as it arrives, in order (an Opus packet is a frame)."""

    def __init__(self, capacity: int) -> None:
        super().__init__(capacity)
        self._last: int | None = None  # the sequence number of the last packet passed on

    def add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        if self._last is not None:
            behind = uint16_add(self._last, -packet.sequence_number)  # 0: a repeat; 1..: older than the last
            if behind < MAX_MISORDER:
                return False, None  # a repeat, or later than a packet already passed on
        # Otherwise the next packets, or a sender that started its numbers again (as aiortc's own buffer allows).
        self._last = packet.sequence_number
        return False, JitterFrame(data=packet._data, timestamp=packet.timestamp)  # type: ignore[attr-defined]


def hear_promptly(receiver: RTCRtpReceiver) -> None:
    """Before media flows: the receiver of the user's microphone passes packets on as they come. Its jitter buffer is
    aiortc's private attribute (aiortc is pinned); without it the session listens 80 ms later."""
    attribute = "_RTCRtpReceiver__jitter_buffer"
    buffer = getattr(receiver, attribute, None)
    if isinstance(buffer, JitterBuffer):
        setattr(receiver, attribute, PacketByPacket(buffer.capacity))
    else:
        log.warning("aiortc's receiver has no jitter buffer where expected: incoming audio is heard 80 ms later")


async def listen(
    track: MediaStreamTrack,
    transcriber: Callable[[], Transcriber],
    language: Language,
    settings: AsrSettings,
    on_voice: Callable[[bool], None],
    on_speech: Callable[[], None],
    on_heard: Callable[[Transcript, TurnClock], None],
) -> None:
    """Runs until the track ends. `transcriber` loads the recognizer (once; at the start, in a worker thread).
    Speech is heard in the session's `language`: Whisper's language identification would double its time."""
    resampler = av.AudioResampler(format="flt", layout="mono", rate=RATE)
    vad = await asyncio.to_thread(SileroStream)
    detector = UtteranceDetector(vad, end_silence_s=settings.end_silence_s, pause_s=settings.pause_s)
    pending: set[asyncio.Task[Any]] = set()
    early: tuple[float, asyncio.Task[Transcript | None]] | None = None  # (where the voice paused, its transcript)
    carried: list[np.ndarray] = []  # utterances that stopped on an open word, joined to the user's next one
    spoke_again = asyncio.Event()  # a new one at each utterance's end: set when speech starts again
    last_turn: asyncio.Task[None] | None = None
    last_end_s: float | None = None  # where the last utterance ended (stream time)
    decoding = asyncio.Lock()  # this session's speech is decoded one piece at a time
    heard_s = 0.0  # stream time of the audio fed to the detector so far
    received_at = time.perf_counter()  # when stream time heard_s arrived

    def start(work: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.create_task(work)
        pending.add(task)
        task.add_done_callback(pending.discard)
        return task

    async def transcribe(audio: np.ndarray, paused_s: float | None = None) -> Transcript | None:
        """`paused_s`: the audio up to a pause, transcribed ahead of the end; skipped (None) if, when its turn comes,
        the voice is back and that utterance did not end there: one stale decode left queued per short pause would
        hold the real one up."""
        async with decoding:
            if paused_s is not None and paused_s not in (detector.pause_end_s, last_end_s):
                return None
            try:
                return await asyncio.to_thread(transcriber().transcribe, audio, language, False)
            except Exception:
                log.exception("a live session's utterance could not be transcribed")
                return None

    async def load() -> None:  # Whisper loads while the user has not spoken yet
        try:
            await asyncio.to_thread(transcriber)
        except Exception:
            log.exception("the speech recognizer could not be loaded for a live session")

    async def hand_over(
        ended: UtteranceEnded,
        ahead: asyncio.Task[Transcript | None] | None,
        clock: TurnClock,
        again: asyncio.Event,
        before: asyncio.Task[None] | None,
    ) -> None:
        ended_at = time.perf_counter()
        if before is not None:
            await asyncio.wait({before})  # it may have left its words to be joined to these
        audio, joined = ended.audio, bool(carried)
        if joined:
            audio, ahead = np.concatenate([*carried, ended.audio]), None
            carried.clear()
        transcript = await (ahead if ahead is not None else transcribe(audio))
        if transcript is not None and sounds_unfinished(transcript.text) and len(audio) < JOINED_MAX_S * RATE:
            remaining = settings.continue_s - clock.since_start(time.perf_counter())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(again.wait(), max(remaining, 0.001))
            if again.is_set():
                carried.append(audio)
                return
            ended_at = time.perf_counter()
        clock.mark("turn_end", ended_at)
        clock.mark("transcript")
        if (
            transcript is not None
            and transcript.text
            and (joined or ended.end_s - ended.start_s >= settings.min_speech_s)
        ):
            on_heard(transcript, clock)

    def on_event(event: Event) -> None:
        nonlocal early, spoke_again, last_turn, last_end_s
        if isinstance(event, VoiceHeard | VoiceFaded):
            on_voice(isinstance(event, VoiceHeard))
        elif isinstance(event, SpeechStarted):
            spoke_again.set()
            on_speech()
        elif isinstance(event, SpeechPaused):
            task = start(transcribe(event.audio, event.end_s))
            early = (event.end_s, task)
            task.add_done_callback(functools.partial(finished_early, event.end_s))
        else:  # the early transcript holds if the voice has not come back since the pause
            last_end_s = event.end_s
            ahead = early[1] if early is not None and early[0] == event.end_s else None
            early = None
            # The turn's clock starts where the voice stopped, on this process's clock.
            clock = TurnClock("speech_end", started_at=received_at - (heard_s - event.end_s))
            spoke_again = asyncio.Event()
            last_turn = start(hand_over(event, ahead, clock, spoke_again, last_turn))

    def finished_early(paused_s: float, task: asyncio.Task[Transcript | None]) -> None:
        """The pause's transcript is back and the user is still silent in that pause: a finished sentence ends the
        turn now, before the silence that would end it."""
        if task.cancelled() or (transcript := task.result()) is None or not sounds_finished(transcript.text):
            return
        if detector.pause_end_s == paused_s and not carried and (ended := detector.end_now()) is not None:
            on_event(ended)

    loading = asyncio.create_task(load())
    try:
        while True:
            frame = await track.recv()
            assert isinstance(frame, av.AudioFrame)
            for resampled in resampler.resample(frame):
                samples = resampled.to_ndarray().reshape(-1)
                heard_s += len(samples) / RATE
                received_at = time.perf_counter()
                for event in detector.feed(samples):
                    on_event(event)
    except MediaStreamError:  # the peer stopped sending: what it said is still handed over
        await asyncio.gather(*pending, return_exceptions=True)
    finally:  # or the session closed (this task cancelled): none of its turns is handed over any more
        loading.cancel()
        for task in pending:
            task.cancel()
        # PyAV's resampler is a filter graph with a thread per core: freed now, not when the garbage collector
        # reaches this frame (kept by the cancelled task's traceback: one thread per ended session piled up).
        del resampler
