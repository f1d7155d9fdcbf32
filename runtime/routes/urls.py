"""Results are stored with a path; answers carry a URL the client can fetch as it is.

The URL is built from RUNTIME_PUBLIC_URL, or from the local address the connection arrived at (the socket's,
not the request's Host header: a forged Host would otherwise make `video_url` point anywhere).
"""

from __future__ import annotations

from fastapi import Request

from contracts.runtime import ChatMessage, GenerateResult, Job, ReplyResult
from runtime.config import Settings


def public_base(settings: Settings, request: Request) -> str:
    if settings.public_url:
        return settings.public_url.rstrip("/")
    server = request.scope.get("server")
    if not server:
        return f"http://localhost:{settings.port}"
    host, port = server[0], server[1]
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{port}" if port else f"http://{host}"


def absolute_url(url: str, request: Request) -> str:
    return public_base(request.app.state.services.settings, request) + url if url.startswith("/") else url


def absolute(result: GenerateResult, request: Request) -> GenerateResult:
    return result.model_copy(update={"video_url": absolute_url(result.video_url, request)})


def message_with_urls(message: ChatMessage, request: Request) -> ChatMessage:
    if message.video_url is None:
        return message
    return message.model_copy(update={"video_url": absolute_url(message.video_url, request)})


def reply_with_urls(result: ReplyResult, request: Request) -> ReplyResult:
    return result.model_copy(update={"reply": message_with_urls(result.reply, request)})


def job_with_urls(job: Job, request: Request) -> Job:
    if isinstance(job.result, GenerateResult):
        return job.model_copy(update={"result": absolute(job.result, request)})
    if isinstance(job.result, ReplyResult):
        return job.model_copy(update={"result": reply_with_urls(job.result, request)})
    return job
