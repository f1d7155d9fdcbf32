"""What the local engines (llama.cpp, transformers) share: one reply at a time, written in a worker thread so the
model is free as soon as the reply is written, whoever reads it and however slowly; each wait of the reader has a
limit and a reason a person can act on."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass

import numpy as np

from common.errors import BadGateway, EngineUnavailable
from gpu_service.engines.llm.base import Generation

POLL_S = 0.2  # how often the reader looks at its limits while no text comes
Emit = Callable[[str], None]
Stopped = Callable[[], bool]
_END = object()


@dataclass(frozen=True)
class Decoding:
    temperature: float  # 0: greedy
    top_p: float
    repetition_penalty: float
    no_repeat_ngram: int  # tiny models loop without it
    stall_s: float  # longest wait for the next token, once the first has come
    queue_s: float = 60.0  # longest wait for the model while it answers other replies
    read_s: float = 60.0  # longest wait for the first token once the model has begun (reading the prompt)


class LocalModel:
    def __init__(self, name: str, decoding: Decoding) -> None:
        self.name = name
        self.decoding = decoding
        self._lock = threading.Lock()  # one reply at a time: a second would only halve the speed of both
        self._waiting = 0  # replies waiting for the model (the lock)
        self._counting = threading.Lock()

    def run(
        self, write: Callable[[Emit, Stopped], None], max_tokens: int, generation: Generation
    ) -> Generator[str, None, None]:
        """The pieces `write(emit, stopped)` emits, read as they come. It runs in a worker once the model is free,
        counts `generation.tokens`, calls `generation.wait_to_write()` between tokens and ends once `stopped()`:
        the reader has gone (closed this generator) or the reply was cancelled."""
        pieces: queue.Queue[object] = queue.Queue()
        left = threading.Event()
        failure: list[BaseException] = []
        began: list[float] = []  # when the model took this reply up (after the replies before it)

        def stopped() -> bool:
            return left.is_set() or generation.stop.is_set()

        def work() -> None:
            try:
                self._queue(+1)
                with self._lock:
                    self._queue(-1)
                    began.append(time.monotonic())
                    if not stopped():  # the reader may have left meanwhile
                        write(pieces.put, stopped)
            except BaseException as exc:  # reported to the reader, which would otherwise wait for its limit
                failure.append(exc)
            finally:
                pieces.put(_END)

        asked = time.monotonic()
        worker = threading.Thread(target=work, name=f"llm-{self.name}", daemon=True)
        worker.start()
        try:
            last_piece: float | None = None
            while True:
                try:
                    piece = pieces.get(timeout=POLL_S)
                except queue.Empty:
                    if not generation.may_write.is_set() and last_piece is not None:
                        last_piece = time.monotonic()  # waiting for speech to have its first sound is no stall
                    self._check_waits(asked, began, last_piece)
                    continue
                if piece is _END:
                    break
                assert isinstance(piece, str)
                last_piece = time.monotonic()
                if piece:
                    yield piece
            if failure:
                raise failure[0]
            generation.finish = "length" if generation.tokens >= max_tokens else "stop"
        finally:
            left.set()
            if began:  # a worker still waiting for the model ends by itself once it has it
                worker.join(timeout=self.decoding.stall_s)

    def read_ahead(self, read: Callable[[], None]) -> None:
        """`read()` now, in the caller's thread, if the model is free; else nothing (a reply is being written). A
        reply asked for meanwhile waits for it: the reading was most of its own first step."""
        if not self._lock.acquire(blocking=False):
            return
        try:
            read()
        finally:
            self._lock.release()

    def _queue(self, change: int) -> None:
        with self._counting:
            self._waiting += change

    def _check_waits(self, asked: float, began: list[float], last_piece: float | None) -> None:
        """Each wait has its own limit: for the model (others' replies), for the first token (the prompt being
        read), between tokens (a stall). Past one, the reply fails with a reason a person can act on."""
        now = time.monotonic()
        if not began:
            if now - asked > self.decoding.queue_s:
                raise EngineUnavailable(
                    f"the model '{self.name}' is busy with {self._waiting} other replies and this one waited "
                    f"{self.decoding.queue_s:g} s (GPU_LLM__QUEUE_S); try again in a moment",
                    headers={"Retry-After": "10"},
                )
        elif last_piece is None:
            if now - began[0] > self.decoding.read_s:
                raise BadGateway(
                    f"the model '{self.name}' read the prompt for over {self.decoding.read_s:g} s without writing "
                    "(GPU_LLM__TIMEOUT_S); send a shorter message or lower GPU_LLM__LOCAL_WINDOW"
                )
        elif now - last_piece > self.decoding.stall_s:
            stall = self.decoding.stall_s
            raise BadGateway(f"the model '{self.name}' wrote nothing for {stall:g} s (GPU_LLM__STALL_S)")


def repeated_ngram_followers(tokens: np.ndarray, n: int) -> np.ndarray:
    """The tokens that would repeat an n-gram already in `tokens` if written next (what transformers'
    no_repeat_ngram_size forbids): those that followed the last n-1 tokens wherever they came before."""
    return ngram_followers(tokens, tokens, n)


def ngram_followers(source: np.ndarray, written: np.ndarray, n: int) -> np.ndarray:
    """The tokens that, written next after `written`, would repeat an n-gram of `source`: those that followed the
    last n-1 tokens of `written` wherever they come in `source`."""
    if n <= 0 or len(source) < n or len(written) < n - 1:
        return np.empty(0, dtype=source.dtype)
    if n == 1:
        return np.asarray(np.unique(source))
    earlier = np.lib.stride_tricks.sliding_window_view(source[:-1], n - 1)
    starts = np.flatnonzero((earlier == written[-(n - 1) :]).all(axis=1))
    return np.asarray(source[starts + n - 1])
