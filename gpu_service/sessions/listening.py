"""A live session's microphone: the peer's audio track, resampled to 16 kHz, cut into utterances by Silero VAD.

The moment speech starts the session hears it (barge-in: the avatar stops); when the utterance ends (after
GPU_ASR__END_SILENCE_S of silence) it is transcribed in a worker thread and handed over as the user's turn.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from gpu_service.asr.streaming import SileroStream, SpeechStarted, UtteranceDetector, UtteranceEnded
from gpu_service.asr.transcriber import RATE, Transcriber, Transcript

log = logging.getLogger("gpu_service.sessions")


async def listen(
    track: MediaStreamTrack,
    transcriber: Callable[[], Transcriber],
    end_silence_s: float,
    min_speech_s: float,
    on_speech: Callable[[], None],
    on_heard: Callable[[Transcript], None],
) -> None:
    """Runs until the track ends. `transcriber` is asked for only when there is something to transcribe."""
    resampler = av.AudioResampler(format="flt", layout="mono", rate=RATE)
    detector = UtteranceDetector(await asyncio.to_thread(SileroStream), end_silence_s=end_silence_s)
    pending: set[asyncio.Task[None]] = set()

    async def transcribe(ended: UtteranceEnded) -> None:
        try:
            transcript = await asyncio.to_thread(transcriber().transcribe, ended.audio, None, False)
        except Exception:
            log.exception("a live session's utterance could not be transcribed")
            return
        if transcript.text and ended.end_s - ended.start_s >= min_speech_s:
            on_heard(transcript)

    try:
        while True:
            frame = await track.recv()
            assert isinstance(frame, av.AudioFrame)
            for resampled in resampler.resample(frame):
                for event in detector.feed(resampled.to_ndarray().reshape(-1)):
                    if isinstance(event, SpeechStarted):
                        on_speech()
                    else:
                        task = asyncio.create_task(transcribe(event))
                        pending.add(task)
                        task.add_done_callback(pending.discard)
    except MediaStreamError:
        return  # the peer stopped sending
