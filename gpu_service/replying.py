"""A reply as speech: the language model writes, the chunker cuts sentences, each is spoken as soon as it is complete.

The model runs in its own thread ahead of speech (sentence 2 is written while sentence 1 is spoken), and the
written reply, with when its first token and first sentence came, is kept in the stream's result as it grows.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass, replace

from common.concurrency.prefetch import prefetch
from common.errors import BadGateway, Unprocessable
from contracts.gpu_service import ChatTurn, Language, ReplyInfo
from gpu_service.assets import AssetReference
from gpu_service.config import LlmSettings
from gpu_service.engines.base import SpeechSegment, TTSEngine, cancel_speech, close_speech
from gpu_service.engines.llm.base import FittedPrompt, Generation, LLMEngine, fit_to_window
from gpu_service.engines.llm.unspoken import UNSPOKEN_LANGUAGE
from gpu_service.text import SentenceChunker, join_sentences, until_marker

SENTENCES_AHEAD = 4  # sentences the model may write ahead of speech
LANGUAGE_NAMES: dict[Language, str] = {"en": "English", "zh": "Mandarin Chinese (简体中文)", "es": "Spanish (español)"}
# How the reminder after each question opens. A small model may write it out after its answer, as if it were part of
# the conversation (SmolLM2: 5 of 26 replies in five conversations), or a shorter form of it ("How do I start
# running? (In English)"): the reply ends where it starts to.
REMINDER_OPENING = "(Answer in"
REMINDER_ECHOES = (REMINDER_OPENING, *(f"(In {name.split(' (')[0]}" for name in LANGUAGE_NAMES.values()))


def reply_prompt(messages: list[ChatTurn], language: Language) -> list[ChatTurn]:
    """The conversation with the reply's language and spoken style added to its system message (ending with the
    question, or without it: the conversation so far, for reading ahead)."""
    style = (
        f"Always reply in {LANGUAGE_NAMES[language]}, whatever language the question is in. "
        "Your words are spoken aloud: answer in one to three short sentences, without lists, markup or emoji."
    )
    # Said again after each question: small models heed the last words more than the system message. After every
    # question, not only the last: the next turn's prompt then starts with this one's whole, and a local model
    # reads only what is new (~45 ms sooner to the first token on two cores than reading the last question again).
    reminder = f"\n\n{REMINDER_OPENING} {LANGUAGE_NAMES[language]}.)"
    turns = [
        ChatTurn(role="user", content=f"{turn.content}{reminder}") if turn.role == "user" else turn
        for turn in messages
        if turn.role != "system"
    ]
    persona = f"{messages[0].content}\n\n{style}" if messages and messages[0].role == "system" else style
    return [ChatTurn(role="system", content=persona), *turns]


@dataclass(frozen=True)
class ReplyLimits:
    max_tokens: int
    max_sentences: int  # 0: no limit
    timeout_s: float  # writing, from the first token (waiting for the model and reading the prompt have their own)

    @classmethod
    def of(cls, settings: LlmSettings, embedded: bool, max_tokens: int | None = None) -> ReplyLimits:
        """The service's limits, the embedded model's tighter (its own limits cap the general ones; 0 sentences:
        no limit); `max_tokens` when a request says."""
        tokens, sentences = settings.max_tokens, settings.max_sentences
        if embedded:
            tokens = min(tokens, settings.embedded_max_tokens)
            sentences = min((limit for limit in (sentences, settings.embedded_max_sentences) if limit), default=0)
        return cls(max_tokens or tokens, sentences, settings.timeout_s)


def reply_sentences(
    llm: LLMEngine,
    prompt: list[ChatTurn],
    limits: ReplyLimits,
    info: ReplyInfo,
    started: float,
    generation: Generation,
) -> Iterator[str]:
    """The reply's sentences as the model completes them; `info` follows along (text, tokens, finish, timings)."""
    chunker = SentenceChunker(first_clause=True)
    tokens = llm.stream(prompt, limits.max_tokens, generation)
    written = until_marker(tokens, *REMINDER_ECHOES)
    deadline = float("inf")
    spoken: list[str] = []
    first_token_at: float | None = None

    def hand_over(sentences: list[str]) -> Iterator[str]:
        for sentence in sentences:
            if not spoken and generation.voiced:
                generation.may_write.clear()  # the model waits while the first clause is voiced (ReplySpeech)
            spoken.append(sentence)
            info.text = join_sentences(spoken)
            if info.first_sentence_s is None:
                info.first_sentence_s = time.perf_counter() - started
            yield sentence
            if limits.max_sentences and len(spoken) >= limits.max_sentences:
                info.finish = "sentences"
                return

    try:
        for piece in written:
            if first_token_at is None:
                first_token_at = time.perf_counter()
                info.first_token_s = first_token_at - started
                if generation.reused_tokens is not None:  # set before the model's first token
                    info.prompt_tokens_read = info.prompt_tokens - generation.reused_tokens
                deadline = first_token_at + limits.timeout_s
            info.tokens = generation.tokens
            yield from hand_over(chunker.feed(piece))
            if info.finish:
                return
            if time.perf_counter() > deadline:
                info.finish = "timeout"
                return
        yield from hand_over(chunker.flush())
        info.finish = info.finish or generation.finish or "stop"
        if not spoken:
            raise BadGateway(f"the model '{llm.name}' wrote an empty reply")
    except Exception:
        info.finish = "error"
        raise
    finally:
        written.close()
        tokens.close()
        info.tokens = generation.tokens
        if first_token_at is not None and generation.tokens > 1:
            info.tokens_per_s = (generation.tokens - 1) / max(time.perf_counter() - first_token_at, 1e-6)


class ReplySpeech:
    """A reply's speech segments, each sentence spoken as it arrives while the model keeps writing in its own thread.

    cancel(), from any thread (common.concurrency.prefetch calls it when its consumer leaves), stops the model at its
    next token and speech before its next sentence: the model is free for the next reply at once."""

    def __init__(
        self,
        sentences: Iterator[str],
        generation: Generation,
        tts: TTSEngine,
        language: Language,
        voice: AssetReference | None,
        match_voice: bool,
    ) -> None:
        self._generation = generation
        self._speaking: Iterator[SpeechSegment] | None = None  # the sentence being synthesized
        self._segments = self._speak(sentences, tts, language, voice, match_voice)

    def __iter__(self) -> Iterator[SpeechSegment]:
        return self

    def __next__(self) -> SpeechSegment:
        return next(self._segments)

    @property
    def tokens(self) -> int:
        """Tokens the model has written so far."""
        return self._generation.tokens

    def cancel(self) -> None:
        self._generation.stop.set()
        self._generation.may_write.set()
        cancel_speech(self._speaking)

    def close(self) -> None:
        self.cancel()
        self._segments.close()

    def _speak(
        self,
        sentences: Iterator[str],
        tts: TTSEngine,
        language: Language,
        voice: AssetReference | None,
        match_voice: bool,
    ) -> Generator[SpeechSegment, None, None]:
        ahead = prefetch(sentences, SENTENCES_AHEAD)
        try:
            for sentence in ahead:
                if self._generation.stop.is_set():
                    return
                self._speaking = tts.stream(sentence, language, voice, match_voice=match_voice)
                if self._generation.stop.is_set():  # cancelled while it was being made
                    return
                for segment in self._speaking:
                    self._generation.may_write.set()  # the first sound exists: the model writes on
                    yield segment
        finally:
            self._generation.may_write.set()
            close_speech(self._speaking)
            ahead.close()


@dataclass(frozen=True)
class ReplyOrder:
    """What a reply needs besides the conversation: the model, its limits, and who speaks it how."""

    llm: LLMEngine
    limits: ReplyLimits
    tts: TTSEngine
    language: Language
    voice: AssetReference | None
    match_voice: bool


def unspoken_language_reply(
    llm_name: str, tts: TTSEngine, language: Language, voice: AssetReference | None, match_voice: bool, started: float
) -> tuple[ReplySpeech, ReplyInfo]:
    """The fixed sentence that says, in `language`, that the model does not write it; the model is not asked."""
    notice = UNSPOKEN_LANGUAGE[language]
    info = ReplyInfo(llm_engine=llm_name, text=notice, finish="language")
    info.first_sentence_s = time.perf_counter() - started
    return ReplySpeech(iter([notice]), Generation(), tts, language, voice, match_voice), info


def fitted_prompt(llm: LLMEngine, limits: ReplyLimits, turns: list[ChatTurn], language: Language) -> FittedPrompt:
    """The reply's prompt fitted to the model's window (oldest turns dropped first), with room for the reply."""
    return fit_to_window(reply_prompt(turns, language), llm.count_tokens, llm.window, limits.max_tokens)


def reply_limits(llm: LLMEngine, limits: ReplyLimits) -> ReplyLimits:
    """A reply takes at most half the window, whatever a request asks: the conversation needs the rest."""
    return replace(limits, max_tokens=min(limits.max_tokens, llm.window // 2))


def read_ahead(llm: LLMEngine, limits: ReplyLimits, turns: list[ChatTurn], language: Language) -> None:
    """The model reads the conversation so far (`turns`: system and history) before its next message is known, as
    that reply's prompt will start (a session's first reply otherwise reads the whole persona first: ~0.3 s on two
    cores). A conversation too long for the window is left to the reply."""
    try:
        fitted = fitted_prompt(llm, reply_limits(llm, limits), turns, language)
    except Unprocessable:
        return
    llm.read_ahead(fitted.messages)


def spoken_reply(order: ReplyOrder, turns: list[ChatTurn], started: float) -> tuple[ReplySpeech, ReplyInfo]:
    """The conversation's next reply, spoken as the model writes it (the prompt fitted to the model's window, oldest
    turns dropped first), and its record, which follows the reply as it goes."""
    llm = order.llm
    limits = reply_limits(llm, order.limits)
    fitted = fitted_prompt(llm, limits, turns, order.language)
    info = ReplyInfo(llm_engine=llm.name, prompt_tokens=fitted.prompt_tokens, dropped_turns=fitted.dropped_turns)
    generation = Generation(voiced=True)
    sentences = reply_sentences(llm, fitted.messages, limits, info, started, generation)
    speech = ReplySpeech(sentences, generation, order.tts, order.language, order.voice, order.match_voice)
    return speech, info
