"""Results are stored with a path; answers carry a URL the client can fetch as it is.

The URL is built from RUNTIME_PUBLIC_URL, or from the local address the connection arrived at (the socket's,
not the request's Host header: a forged Host would otherwise make `video_url` point anywhere).
"""

from __future__ import annotations

from fastapi import Request

from contracts.runtime import GenerateResult, Job
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


def absolute(result: GenerateResult, request: Request) -> GenerateResult:
    if result.video_url.startswith("/"):
        base = public_base(request.app.state.services.settings, request)
        return result.model_copy(update={"video_url": base + result.video_url})
    return result


def job_with_urls(job: Job, request: Request) -> Job:
    return job.model_copy(update={"result": absolute(job.result, request)}) if job.result else job
