"""One live turn's stage times on one clock (time.perf_counter), from the end of the user's speech or a message's
arrival: marked by whoever reaches a stage (the listener, the model's thread, the performer, the media track), read
into each event the turn sends and, when it ends, into /metrics."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Literal

from contracts.gpu_service import TurnTimings

Stage = Literal["turn_end", "transcript", "first_token", "first_clause", "first_audio", "first_packet"]
STAGES: tuple[Stage, ...] = ("turn_end", "transcript", "first_token", "first_clause", "first_audio", "first_packet")


@dataclass
class TurnClock:
    start: Literal["speech_end", "message"]
    started_at: float = field(default_factory=time.perf_counter)  # the clock's zero, on time.perf_counter
    prompt_tokens_read: int | None = None  # chat with a local model: the prompt's tokens it read for this turn
    _marks: dict[Stage, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def mark(self, stage: Stage, at: float | None = None) -> None:
        """The first time `stage` is reached counts (a reply's second sentence is not its first)."""
        seconds = (time.perf_counter() if at is None else at) - self.started_at
        with self._lock:
            self._marks.setdefault(stage, max(0.0, seconds))

    def since_start(self, at: float) -> float:
        return at - self.started_at

    def timings(self) -> TurnTimings:
        with self._lock:
            marks = dict(self._marks)
        stages = {f"{stage}_s": marks.get(stage) for stage in STAGES}
        return TurnTimings(start=self.start, prompt_tokens_read=self.prompt_tokens_read, **stages)
