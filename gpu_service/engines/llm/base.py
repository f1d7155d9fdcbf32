"""The contract of a language-model engine, and fitting a conversation into its window."""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Literal, Protocol

from common.errors import Unprocessable
from contracts.gpu_service import ChatTurn


@dataclass
class Generation:
    """What an engine reports of one reply while it streams it; `stop`, set from any thread, ends it at the next
    token (the listener has gone: the model is free for the next reply at once, not after its sentence)."""

    tokens: int = 0
    # Of the prompt, read for an earlier reply (or ahead) and not read again: a local model's cache; None: the
    # engine cannot tell (a server).
    reused_tokens: int | None = None
    finish: Literal["stop", "length"] | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    # Cleared while the reply's first clause is being voiced (when the reply is spoken as it is written): a local
    # model waits (at its next token) rather than take the cores speech needs for the first sound; set again once
    # that sound exists, or on stop.
    voiced: bool = False
    may_write: threading.Event = field(default_factory=lambda: _set(threading.Event()))

    def wait_to_write(self) -> None:
        """In the model's thread, between tokens: wait while speech has the cores (at most PAUSE_LIMIT_S)."""
        self.may_write.wait(PAUSE_LIMIT_S)


PAUSE_LIMIT_S = 10.0  # a first clause that takes longer to voice than this lets the model go on anyway


def _set(event: threading.Event) -> threading.Event:
    event.set()
    return event


class LLMEngine(Protocol):
    name: str
    window: int  # context window in tokens: prompt and reply together

    def count_tokens(self, messages: list[ChatTurn]) -> int:
        """Tokens the prompt of these messages takes (an estimate where the engine has no tokenizer)."""
        ...

    def stream(self, messages: list[ChatTurn], max_tokens: int, generation: Generation) -> Generator[str, None, None]:
        """The reply's text piece by piece. Closing the iterator stops the model at its next token."""
        ...

    def read_ahead(self, messages: list[ChatTurn]) -> None:
        """Read the conversation so far (up to the next message, not yet known) if the model is free, so the reply
        to that message reads only the message. Returns at once when the model is busy or has read them already."""
        ...


@dataclass(frozen=True)
class FittedPrompt:
    messages: list[ChatTurn]
    prompt_tokens: int
    dropped_turns: int


def fit_to_window(
    messages: list[ChatTurn], count_tokens: Callable[[list[ChatTurn]], int], window: int, reply_tokens: int
) -> FittedPrompt:
    """Leave out the oldest turns until the prompt and the reply fit; the system message and last turn stay."""
    system = [turn for turn in messages[:1] if turn.role == "system"]
    turns = messages[len(system) :]
    dropped = 0
    while True:
        kept = [*system, *turns[dropped:]]
        tokens = count_tokens(kept)
        if tokens + reply_tokens <= window:
            return FittedPrompt(kept, tokens, dropped)
        if dropped >= len(turns) - 1:
            raise Unprocessable(
                f"the message and system prompt take {tokens} tokens; with {reply_tokens} for the reply that "
                f"exceeds the model's window of {window}: send a shorter message"
            )
        dropped += 1
