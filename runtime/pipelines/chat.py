"""A user's message in, the avatar's reply out: the gpu_service's model writes it, the avatar says it, streamed.

The user's turn is stored first, then the reply as "running"; it ends "done" with its text, sentences and video,
"partial" when the model or the stream failed after something was said (the text is what was said), or "failed".
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import anyio

from common.errors import BadGateway, Conflict, NotFound
from contracts.gpu_service import HistoryTurn, Language, SegmentTiming, SpeakResult, TranscribeResponse
from contracts.runtime import ChatMessage, Conversation, MessageStatus, Persona, ReplyResult, ReplyTimings
from runtime.conversations import ConversationStore, new_id
from runtime.gpu_client import GpuUnreachable
from runtime.gpu_gateway import GpuBackend
from runtime.gpu_requests import check_text, reply_request, spoken_language
from runtime.pipelines.generate import GenerateContext, VideoStream, fallback, open_video
from runtime.progress import RunningReplies
from runtime.videos import video_url

log = logging.getLogger("runtime.chat")


@dataclass
class ChatContext:
    generating: GenerateContext
    conversations: ConversationStore
    history_turns: int  # most recent turns sent to the model (it trims further to its window)
    running: RunningReplies  # the replies being made here, followed by their event streams


@dataclass
class ReplyStream:
    conversation_id: str
    user: ChatMessage
    reply: ChatMessage
    video: VideoStream
    context: ChatContext

    async def chunks(self) -> AsyncIterator[bytes]:
        """The reply's video as it is made; the message is stored done, partial or failed however it ends."""
        try:
            async for chunk in self.video.chunks():
                yield chunk
        except BaseException as exc:
            with anyio.CancelScope(shield=True):
                await self._ended_early(exc)
            raise
        assert self.video.report is not None
        self._store(self.video.report, "done", None)

    async def consume(self) -> ReplyResult:
        try:
            async for _ in self.chunks():
                pass
        except GpuUnreachable as exc:
            raise BadGateway(
                f"the reply stopped midway ({exc}); what was said is stored as a {self.reply.status} message"
            ) from exc
        return ReplyResult(conversation_id=self.conversation_id, user=self.user, reply=self.reply)

    async def _ended_early(self, exc: BaseException) -> None:
        reason = (
            "the client went away" if isinstance(exc, GeneratorExit | anyio.get_cancelled_exc_class()) else str(exc)
        )
        report = self.video.ended_early  # what the gpu_service had said by then (None if it is gone)
        said = report is not None and report.reply is not None and bool(report.reply.text)
        self._store(report, "partial" if said else "failed", reason)

    def _store(self, report: SpeakResult | None, status: MessageStatus, error: str | None) -> None:
        info = report.reply if report is not None else None
        video_ok = status == "done"
        self.reply = self.reply.model_copy(
            update={
                "status": status,
                "text": info.text if info else "",
                "segments": report.segments if report else [],
                "finish": "error" if status != "done" and info else (info.finish if info else None),
                "llm_engine": info.llm_engine if info else None,
                "video_id": self.video.video_id if video_ok else None,
                "video_url": video_url(self.video.video_id) if video_ok else None,
                "timings": ReplyTimings(
                    first_token_s=info.first_token_s if info else None,
                    first_sentence_s=info.first_sentence_s if info else None,
                    first_fragment_s=report.timings.first_fragment_s if report else None,
                    total_s=time.perf_counter() - self.video.started,
                    tokens=info.tokens if info else 0,
                    tokens_per_s=info.tokens_per_s if info else None,
                ),
                "error": error,
            }
        )
        self.context.conversations.save(self.conversation_id, self.reply)
        self.context.running.end(self.reply.id, self.reply)


def model_context(conversation: Conversation, user: ChatMessage, history_turns: int) -> list[HistoryTurn]:
    """The turns before `user`'s that were said (failed replies were not), the most recent ones: `history_turns`
    counts the new message too."""
    said = [m for m in conversation.messages if m.status != "failed" and m.text and m.id != user.id]
    recent = said[-(history_turns - 1) :] if history_turns > 1 else []
    return [HistoryTurn(role=message.role, content=message.text) for message in recent]


async def check_persona(persona: Persona, context: ChatContext, owner: str) -> None:
    """404 now for a voice or portrait that does not exist, rather than at the first message."""
    uploads = context.generating.uploads
    if persona.voice and uploads.is_upload_id(persona.voice):
        uploads.voice_file(persona.voice, owner)
    if persona.portrait and uploads.is_upload_id(persona.portrait):
        uploads.portrait_file(persona.portrait, owner)
    bundled_voice = persona.voice if persona.voice and not uploads.is_upload_id(persona.voice) else None
    bundled_portrait = persona.portrait if persona.portrait and not uploads.is_upload_id(persona.portrait) else None
    if bundled_voice is None and bundled_portrait is None:
        return
    try:
        client = (await context.generating.gateway.backend()).client
        voices = {voice.id for voice in (await client.voices()).voices}
        portraits = {portrait.id for portrait in (await client.portraits()).portraits}
    except GpuUnreachable:
        return  # checked when the first message is answered
    if bundled_voice is not None and bundled_voice not in voices:
        raise NotFound(f"no voice '{bundled_voice}'; bundled voices: {', '.join(sorted(voices))} (or upload one)")
    if bundled_portrait is not None and bundled_portrait not in portraits:
        raise NotFound(
            f"no portrait '{bundled_portrait}'; bundled portraits: {', '.join(sorted(portraits))} (or upload one)"
        )


async def hear(recording: Path, name: str, context: ChatContext) -> TranscribeResponse:
    """A spoken message's transcript, by the gpu_service (or the local engines if it went away, when allowed)."""
    backend = await context.generating.gateway.backend()
    try:
        return await backend.client.transcribe(recording, name)
    except GpuUnreachable as exc:
        return await (await fallback(backend, context.generating, exc)).client.transcribe(recording, name)


def user_message(text: str, language: Language, audio_s: float | None = None) -> ChatMessage:
    return ChatMessage(
        id=new_id(),
        role="user",
        text=text,
        language=language,
        status="done",
        created_at=datetime.now(UTC),
        audio_s=audio_s,
    )


def check_free(store: ConversationStore, conversation_id: str) -> None:
    """409 while a reply is being made: checked before anything of the new message is stored or transcribed."""
    if store.running_reply(conversation_id):
        raise Conflict("the previous reply in this conversation is still being made; send the next message after it")


async def open_reply(
    conversation_id: str,
    text: str,
    context: ChatContext,
    owner: str,
    user: ChatMessage | None = None,
    stored: bool = False,
) -> ReplyStream:
    """Store the user's turn (`user` when the caller made it, e.g. with what was heard; unless `stored` already, as
    a queued job's is) and start the reply; refusals come before anything is stored or any byte is sent."""
    store, generating = context.conversations, context.generating
    settings = generating.settings
    conversation = store.get(conversation_id, owner)
    check_free(store, conversation_id)
    check_text(text, settings, "message")
    started = time.perf_counter()
    if user is not None and user.language is not None:  # found when it was stored (or heard)
        language, detected = user.language, conversation.persona.language == "auto"
    else:
        language, detected = spoken_language(conversation.persona.language, text)
    user = user or user_message(text, language)
    if not stored:
        store.save(conversation_id, user)
    reply = ChatMessage(
        id=new_id(), role="assistant", text="", language=language, status="running", created_at=datetime.now(UTC)
    )
    history = model_context(conversation, user, context.history_turns)
    store.save(conversation_id, reply)
    events = context.running.start(reply.id, owner)

    async def on_segment(segment: SegmentTiming) -> None:
        events.append(segment)

    async def start(backend: GpuBackend) -> VideoStream:
        request = await reply_request(
            conversation.persona, text, history, language, backend, generating.uploads, settings, owner
        )
        opened = backend.client.reply(request)
        return await open_video(opened, backend, language, detected, generating, started, owner, on_segment)

    backend = await generating.gateway.backend()
    try:
        try:
            video = await start(backend)
        except GpuUnreachable as exc:
            video = await start(await fallback(backend, generating, exc))
    except BaseException as exc:
        failed = reply.model_copy(update={"status": "failed", "error": str(exc)})
        store.save(conversation_id, failed)
        context.running.end(reply.id, failed)
        raise
    store.save(conversation_id, reply, speak_id=video.speak_id)
    return ReplyStream(conversation_id, user, reply, video, context)
