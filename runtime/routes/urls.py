from __future__ import annotations

from fastapi import Request

from contracts.runtime import GenerateResult, Job


def absolute(result: GenerateResult, request: Request) -> GenerateResult:
    """Results are stored with a path; answers carry a URL the client can fetch as it is."""
    if result.video_url.startswith("/"):
        return result.model_copy(update={"video_url": str(request.base_url).rstrip("/") + result.video_url})
    return result


def job_with_urls(job: Job, request: Request) -> Job:
    return job.model_copy(update={"result": absolute(job.result, request)}) if job.result else job
