"""How each /speak and /reply stream is going, as events its followers get the moment they happen.

The stream's worker logs a `segment` event as each sentence goes into the video and an `end` event with the whole
record when it stops; GET /api/v1/speak/{id}/events relays them (the runtime follows them while it relays the
video), GET /api/v1/speak/{id} answers from them while the stream runs. The record is written to disk once, at
the end; ended streams are forgotten here after FORGET_S.
"""

from __future__ import annotations

import threading
import time

from common.concurrency.event_log import EventLog
from contracts.gpu_service import ReplyInfo, SegmentTiming, SpeakEvent, SpeakResult
from gpu_service.text import join_sentences

FORGET_S = 120.0


class SpeakProgress:
    def __init__(self, result: SpeakResult) -> None:
        self.log: EventLog[SpeakEvent] = EventLog()
        self._started = result.model_copy(deep=True)
        self.ended_at: float | None = None

    def segment(self, timing: SegmentTiming, reply: ReplyInfo | None) -> None:
        reply_now = reply.model_copy() if reply is not None else None
        self.log.append(SpeakEvent(type="segment", index=len(self.log), segment=timing, reply=reply_now))

    def end(self, result: SpeakResult) -> None:
        self.log.append(SpeakEvent(type="end", index=len(self.log), result=result.model_copy(deep=True)))
        self.log.close()
        self.ended_at = time.monotonic()

    def snapshot(self) -> SpeakResult:
        """The record as it stands: the final one once ended, else the start with the segments said so far."""
        events = self.log.events()
        if events and events[-1].result is not None:
            return events[-1].result
        segments = [event.segment for event in events if event.segment is not None]
        replies = [event.reply for event in events if event.reply is not None]
        spoken = join_sentences([segment.spoken for segment in segments if segment.spoken])
        return self._started.model_copy(
            update={
                "segments": segments,
                "spoken_text": spoken,
                "reply": replies[-1] if replies else self._started.reply,
            }
        )


class SpeakBoard:
    """The streams of this process, running or lately ended, by id."""

    def __init__(self) -> None:
        self._streams: dict[str, SpeakProgress] = {}
        self._lock = threading.Lock()

    def open(self, result: SpeakResult) -> SpeakProgress:
        progress = SpeakProgress(result)
        with self._lock:
            self._forget_old()
            self._streams[result.id] = progress
        return progress

    def get(self, speak_id: str) -> SpeakProgress | None:
        with self._lock:
            self._forget_old()
            return self._streams.get(speak_id)

    def _forget_old(self) -> None:
        now = time.monotonic()
        for speak_id, progress in list(self._streams.items()):
            if progress.ended_at is not None and now - progress.ended_at > FORGET_S:
                del self._streams[speak_id]
