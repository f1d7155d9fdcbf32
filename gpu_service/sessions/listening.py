"""A live session's microphone: the peer's audio track, resampled to 16 kHz, cut into utterances by Silero VAD.

The first voiced frame silences the avatar (held, in case it is a cough); once it is speech (~100 ms of voice)
the avatar stops (barge-in), otherwise it carries on; when the utterance ends (after
GPU_ASR__END_SILENCE_S of silence) it is transcribed in a worker thread and handed over as the user's turn.
Transcription starts early, at the first pause of GPU_ASR__PAUSE_S: if nothing more is said before the utterance
ends, that transcript is the turn's, and the wait for the end of speech overlaps with Whisper's work.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from contracts.gpu_service import Language
from gpu_service.engines.asr.streaming import (
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

log = logging.getLogger("gpu_service.sessions")


async def listen(
    track: MediaStreamTrack,
    transcriber: Callable[[], Transcriber],
    language: Language,
    end_silence_s: float,
    pause_s: float,
    min_speech_s: float,
    on_voice: Callable[[bool], None],
    on_speech: Callable[[], None],
    on_heard: Callable[[Transcript, TurnClock], None],
) -> None:
    """Runs until the track ends. `transcriber` loads the recognizer (once; at the start, in a worker thread).
    Speech is heard in the session's `language`: Whisper's language identification would double its time."""
    resampler = av.AudioResampler(format="flt", layout="mono", rate=RATE)
    vad = await asyncio.to_thread(SileroStream)
    detector = UtteranceDetector(vad, end_silence_s=end_silence_s, pause_s=pause_s)
    pending: set[asyncio.Task[Transcript | None]] = set()
    early: tuple[float, asyncio.Task[Transcript | None]] | None = None  # (where the voice paused, its transcript)

    def start(work: Coroutine[Any, Any, Transcript | None]) -> asyncio.Task[Transcript | None]:
        task = asyncio.create_task(work)
        pending.add(task)
        task.add_done_callback(pending.discard)
        return task

    async def transcribe(audio: np.ndarray) -> Transcript | None:
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

    async def hand_over(ended: UtteranceEnded, ahead: asyncio.Task[Transcript | None] | None, clock: TurnClock) -> None:
        transcript = await (ahead if ahead is not None else transcribe(ended.audio))
        clock.mark("transcript")
        if transcript is not None and transcript.text and ended.end_s - ended.start_s >= min_speech_s:
            on_heard(transcript, clock)
        return None

    loading = asyncio.create_task(load())
    heard_s = 0.0  # stream time of the audio fed to the detector so far
    try:
        while True:
            frame = await track.recv()
            assert isinstance(frame, av.AudioFrame)
            for resampled in resampler.resample(frame):
                samples = resampled.to_ndarray().reshape(-1)
                heard_s += len(samples) / RATE
                received_at = time.perf_counter()  # stream time heard_s arrived now
                for event in detector.feed(samples):
                    if isinstance(event, VoiceHeard | VoiceFaded):
                        on_voice(isinstance(event, VoiceHeard))
                    elif isinstance(event, SpeechStarted):
                        on_speech()
                    elif isinstance(event, SpeechPaused):
                        early = (event.end_s, start(transcribe(event.audio)))
                    else:  # the early transcript holds if the voice has not come back since the pause
                        ahead = early[1] if early is not None and early[0] == event.end_s else None
                        early = None
                        # The turn's clock starts where the voice stopped, on this process's clock.
                        clock = TurnClock("speech_end", started_at=received_at - (heard_s - event.end_s))
                        clock.mark("turn_end")
                        start(hand_over(event, ahead, clock))
    except MediaStreamError:
        return  # the peer stopped sending
    finally:
        loading.cancel()
