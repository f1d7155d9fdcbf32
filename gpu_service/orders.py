"""The service layer between the routes and the engines: a request checked and turned into what the engines run.

One home for what /tts, /speak, /reply and live sessions share: the speech order (engine, voice, matching), the
avatar opened on a portrait with its seed, and a reply started from a conversation. Each order holds the engines it
uses (the model manager then keeps them loaded) until whoever runs it releases it.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field

from common.errors import TooLarge, Unprocessable
from contracts.gpu_service import ChatTurn, Language, ReplyInfo, ReplyRequest, VideoOptions, VoiceOptions
from gpu_service.assets import AssetReference
from gpu_service.dependencies import Services
from gpu_service.engines.base import AvatarSession, SpeechChain, SpeechSegment, TTSEngine
from gpu_service.engines.llm.base import LLMEngine
from gpu_service.engines.registry import EngineSpec
from gpu_service.replying import (
    ReplyLimits,
    ReplyOrder,
    ReplySpeech,
    read_ahead,
    spoken_reply,
    unspoken_language_reply,
)
from gpu_service.text import split_first_clause


@dataclass
class SpeechOrder:
    """A voice request checked against the limits and resolved: engine, voice, whether to match it."""

    engine: TTSEngine
    language: Language
    voice: AssetReference | None
    match_voice: bool
    held: ExitStack = field(default_factory=ExitStack)  # the engines this order keeps loaded

    def speak(self, text: str, first_clause: bool = False, word_limit: bool = True) -> Iterator[SpeechSegment]:
        """`first_clause`: voiced on its own first, so the first sound comes sooner (live speech, a stream); cut
        after a few words too unless `word_limit` is False (split_first_clause)."""
        if not first_clause:
            return self.engine.stream(text, self.language, self.voice, match_voice=self.match_voice)
        return self._clause_first(text, word_limit)

    def _clause_first(self, text: str, word_limit: bool) -> Iterator[SpeechSegment]:
        pieces = (piece for piece in split_first_clause(text, word_limit) if piece)
        return SpeechChain(
            self.engine.stream(piece, self.language, self.voice, match_voice=self.match_voice) for piece in pieces
        )

    def release(self) -> None:
        self.held.close()


def resolve_speech(request: VoiceOptions, services: Services, text: str | None) -> SpeechOrder:
    """`text`: what will be said, when known up front (a reply's text is checked as the model writes it)."""
    settings = services.settings
    if text is not None and len(text) > settings.max_text_chars:
        raise TooLarge(f"text has {len(text)} characters; the limit is {settings.max_text_chars} (GPU_MAX_TEXT_CHARS)")
    held = ExitStack()
    try:
        engine = services.engines.tts.hold(request.engine, held)
        if request.language not in engine.languages:
            raise Unprocessable(f"engine '{engine.name}' does not speak '{request.language}'")
        voice = services.voices.resolve(request.voice) if request.voice else None
    except BaseException:
        held.close()
        raise
    match_voice = settings.voice_matching if request.match_voice is None else request.match_voice
    return SpeechOrder(engine, request.language, voice, match_voice, held)


@dataclass
class OpenedAvatar:
    """An avatar session on the request's portrait, and the engine kept loaded while it runs."""

    engine_name: str
    portrait: AssetReference
    session: AvatarSession
    held: ExitStack

    def release(self) -> None:
        self.held.close()


def open_avatar(request: VideoOptions, services: Services, seed_text: str) -> OpenedAvatar:
    """The session a stream or a live peer is drawn from; blinks and head motion are seeded by `seed_text` unless
    the request gives a seed, so they vary from text to text (or portrait to portrait) and repeat for the same."""
    held = ExitStack()
    try:
        engine = services.engines.avatar.hold(request.avatar_engine, held)
        portrait = services.portraits.resolve(request.portrait, request.face)
        seed = request.seed if request.seed is not None else zlib.crc32(seed_text.encode())
        session = engine.open_session(portrait, fps=request.fps, size=request.size, seed=seed)
    except BaseException:
        held.close()
        raise
    return OpenedAvatar(engine.name, portrait, session, held)


def read_conversation_ahead(
    language: Language, llm_engine: str | None, turns: list[ChatTurn], services: Services
) -> None:
    """The model reads the conversation so far (system and history) before the next message comes, if it is free
    (replying.read_ahead). Nothing for a language the model does not write: its reply is a fixed sentence."""
    spec = services.engines.llm.spec(llm_engine)
    if not _writes(spec, language, services):
        return
    with ExitStack() as held:
        llm = services.engines.llm.hold(llm_engine, held)
        read_ahead(llm, ReplyLimits.of(services.settings.llm, spec.embedded), turns, language)


def start_reply(
    request: ReplyRequest, speech: SpeechOrder, services: Services, started: float
) -> tuple[ReplySpeech, ReplyInfo]:
    """The model's reply to the request's conversation, spoken by `speech` as it is written; the model is held by
    `speech` until it is released. A language the model does not write gets a fixed sentence saying so."""
    settings = services.settings.llm
    spec = services.engines.llm.spec(request.llm_engine)
    if not _writes(spec, speech.language, services):
        return unspoken_language_reply(
            spec.name, speech.engine, speech.language, speech.voice, speech.match_voice, started
        )
    llm = services.engines.llm.hold(request.llm_engine, speech.held)
    order = ReplyOrder(
        llm,
        ReplyLimits.of(settings, spec.embedded, request.max_tokens),
        speech.engine,
        speech.language,
        speech.voice,
        speech.match_voice,
    )
    return spoken_reply(order, request.turns(), started)


def _writes(spec: EngineSpec[LLMEngine], language: Language, services: Services) -> bool:
    """Whether the model is asked for a reply in `language`: not when it does not write it and a fixed sentence
    saying so is the reply (GPU_LLM__SAY_UNSPOKEN_LANGUAGE)."""
    unspoken = bool(spec.languages) and language not in spec.languages
    return not (unspoken and services.settings.llm.say_unspoken_language)
