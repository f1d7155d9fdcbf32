"""Conversations: the avatar answers. A message's reply is written by the gpu_service's language model and spoken
as it is written; its video streams like /generate's, its text arrives as server-sent events beside it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Form, Request, UploadFile
from fastapi.responses import Response, StreamingResponse

from common.errors import documented
from common.http.streaming import ClosingStreamingResponse
from common.http.uploads import receive_upload
from contracts.runtime import (
    EVENTS_URL_HEADER,
    FALLBACK_HEADER,
    MESSAGE_ID_HEADER,
    VIDEO_ID_HEADER,
    VIDEO_URL_HEADER,
    ChatJob,
    ChatJobRequest,
    ChatMessage,
    Conversation,
    Job,
    MessageRequest,
    Persona,
    ReplyResult,
)
from runtime.dependencies import Owner, Services, get_services, rate_limited
from runtime.gpu_requests import check_text, spoken_language
from runtime.pipelines.chat import (
    ReplyStream,
    check_free,
    check_persona,
    hear,
    open_reply,
    user_message,
)
from runtime.progress import ReplyEvent, sentence_event_response
from runtime.routes.urls import job_with_urls, message_with_urls, reply_with_urls
from runtime.videos import video_url

router = APIRouter(prefix="/api/v1/conversations")
REPLY_STREAM_DOC = {
    "content": {"video/mp4": {}},
    "description": "With `stream: true`: the reply's video as a fragmented MP4, sent as it is written and spoken. "
    "`X-Message-Id` names the reply, `X-Events-Url` is where its sentences arrive as server-sent events. A stream "
    "that fails midway ends without HTTP's final chunk; the message is then stored as partial (what was said) or "
    "failed.",
}
EVENTS_DOC = {
    "content": {"text/event-stream": {}},
    "description": "`sentence` events ({index, text, start_s, duration_s}: where it plays in the reply's video) as "
    "each is spoken, then one `done` event with the stored message (status done, partial or failed).",
}


def _with_urls(conversation: Conversation, request: Request) -> Conversation:
    return conversation.model_copy(
        update={"messages": [message_with_urls(message, request) for message in conversation.messages]}
    )


@router.post("", response_model=Conversation, status_code=201, responses=documented(400, 404, 413, 422))
async def create(
    owner: Owner,
    services: Annotated[Services, Depends(get_services)],
    persona: Annotated[Persona | None, Body()] = None,
) -> Conversation:
    """Start a conversation with a persona (name, system prompt, voice, portrait, language); `{}` takes defaults."""
    persona = persona or Persona()
    await check_persona(persona, services.chatting, owner)
    return services.conversations.create(persona, owner)


@router.get("/{conversation_id}", response_model=Conversation, responses=documented(404))
async def read(
    conversation_id: str, request: Request, owner: Owner, services: Annotated[Services, Depends(get_services)]
) -> Conversation:
    """The conversation with its messages, oldest first (a reply being made shows as running)."""
    return _with_urls(services.conversations.get(conversation_id, owner), request)


@router.post(
    "/{conversation_id}/messages",
    response_model=ReplyResult,
    responses={200: REPLY_STREAM_DOC, **documented(400, 404, 409, 413, 422, 429, 502, 503)},
    dependencies=[Depends(rate_limited)],
)
async def send(
    conversation_id: str,
    body: MessageRequest,
    request: Request,
    owner: Owner,
    services: Annotated[Services, Depends(get_services)],
) -> ReplyResult | Response:
    """Say something; the avatar replies in the conversation's language (or the message's, with auto).

    Without `stream`, the answer waits for the whole reply (text, sentences, video URL)."""
    reply = await open_reply(conversation_id, body.text, services.chatting, owner)
    return await _answer(reply, conversation_id, body.stream, request)


async def _answer(reply: ReplyStream, conversation_id: str, stream: bool, request: Request) -> ReplyResult | Response:
    """The whole reply as JSON, or its video streamed with the headers that name it."""
    if not stream:
        return reply_with_urls(await reply.consume(), request)
    video_id = reply.video.video_id
    headers = {
        MESSAGE_ID_HEADER: reply.reply.id,
        EVENTS_URL_HEADER: f"/api/v1/conversations/{conversation_id}/messages/{reply.reply.id}/events",
        VIDEO_ID_HEADER: video_id,
        VIDEO_URL_HEADER: video_url(video_id),
        FALLBACK_HEADER: str(reply.video.backend.is_fallback).lower(),
        "Cache-Control": "no-store",
    }
    return ClosingStreamingResponse(reply.chunks(), media_type="video/mp4", headers=headers)


@router.post(
    "/{conversation_id}/messages/audio",
    response_model=ReplyResult,
    responses={200: REPLY_STREAM_DOC, **documented(400, 404, 409, 413, 422, 429, 502, 503)},
    dependencies=[Depends(rate_limited)],
)
async def send_audio(
    conversation_id: str,
    file: UploadFile,
    request: Request,
    owner: Owner,
    services: Annotated[Services, Depends(get_services)],
    stream: Annotated[bool, Form()] = False,
) -> ReplyResult | Response:
    """Say it aloud: a recording (WAV, MP3, M4A, the browser's WebM/Opus) is transcribed, its transcript becomes
    the user's turn (with the recording's length and the language heard), and the reply follows in that language.
    422 when the recording holds no speech."""
    services.conversations.get(conversation_id, owner)  # 404 before anything is received
    check_free(services.conversations, conversation_id)  # 409 before a recording is received and heard
    settings = services.settings
    received = await receive_upload(
        file,
        settings.uploads_dir / "incoming",
        settings.max_voice_upload_bytes,
        "audio",
        "RUNTIME_MAX_VOICE_UPLOAD_BYTES",
    )
    try:
        heard = await hear(received, file.filename or "recording", services.chatting)
    finally:
        received.unlink(missing_ok=True)
    user = user_message(heard.text, heard.language, audio_s=heard.duration_s)
    reply = await open_reply(conversation_id, heard.text, services.chatting, owner, user=user)
    return await _answer(reply, conversation_id, stream, request)


@router.get(
    "/{conversation_id}/messages/{message_id}/events",
    response_class=StreamingResponse,
    responses={200: EVENTS_DOC, **documented(404, 429)},
)
async def events(
    conversation_id: str,
    message_id: str,
    request: Request,
    owner: Owner,
    services: Annotated[Services, Depends(get_services)],
) -> StreamingResponse:
    """The reply's sentences as they are spoken, then the stored message; a finished reply replays at once."""
    services.conversations.message(conversation_id, message_id, owner)  # 404 before the stream starts
    running = services.chatting.running
    leave = running.listen(owner)  # 429 before the stream starts

    async def replayed() -> AsyncIterator[ReplyEvent]:
        """The reply's events: followed while it is made here, else (it has ended) read from the store."""
        events = running.get(message_id, owner)
        if events is not None:
            async for event in events.follow():
                yield event
            return
        message, _ = services.conversations.message(conversation_id, message_id, owner)
        for segment in message.segments:
            yield segment
        yield message

    return sentence_event_response(replayed(), lambda message: message_with_urls(message, request), leave)


@router.post(
    "/{conversation_id}/jobs",
    response_model=Job,
    status_code=202,
    responses=documented(400, 404, 409, 413, 422, 429),
    dependencies=[Depends(rate_limited)],
)
async def submit(
    conversation_id: str,
    body: ChatJobRequest,
    request: Request,
    owner: Owner,
    services: Annotated[Services, Depends(get_services)],
) -> Job:
    """Queue the reply to a message (a "chat_reply" job); poll GET /api/v1/jobs/{id}, download its video."""
    conversation = services.conversations.get(conversation_id, owner)
    check_free(services.conversations, conversation_id)
    check_text(body.text, services.settings, "message")
    services.runner.check_capacity()
    language, _ = spoken_language(conversation.persona.language, body.text)
    user: ChatMessage = user_message(body.text, language)
    services.conversations.save(conversation_id, user)
    job = services.runner.submit(
        ChatJob(conversation_id=conversation_id, message_id=user.id, text=body.text), owner, "chat_reply"
    )
    return job_with_urls(job, request)
