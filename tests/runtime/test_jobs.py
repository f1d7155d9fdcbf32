"""Jobs over HTTP: queued, running with a stage, done with a result; none lost when the runtime is killed."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import httpx
import pytest

from common.process.launch import run_service
from contracts.runtime import GenerateResult, Job
from tests.runtime.conftest import Stack, container_view, runtime_env, wait_for_job

LONG_TEXT = "This job has a fairly long text, so that it keeps the only worker busy for a while. " * 6


def submit(url: str, text: str) -> httpx.Response:
    return httpx.post(f"{url}/api/v1/jobs", json={"text": text, "language": "en"}, timeout=30)


def test_a_job_reports_its_stage_and_result(stack: Stack) -> None:
    response = submit(stack.runtime.url, LONG_TEXT)
    assert response.status_code == 202
    job = Job.model_validate(response.json())
    seen = set()
    while job.status in ("queued", "running"):
        seen.add(job.stage)
        time.sleep(0.05)
        job = Job.model_validate(httpx.get(f"{stack.runtime.url}/api/v1/jobs/{job.id}").json())
    assert job.status == "done", job.error
    assert seen & {"tts", "avatar", "resolving", "storing"}, f"stages seen: {seen}"
    assert isinstance(job.result, GenerateResult) and httpx.get(job.result.video_url).status_code == 200
    listed = httpx.get(f"{stack.runtime.url}/api/v1/jobs", params={"limit": 5}).json()["jobs"]
    assert job.id in [item["id"] for item in listed]


def test_unknown_job_is_404(stack: Stack) -> None:
    response = httpx.get(f"{stack.runtime.url}/api/v1/jobs/nope")
    assert response.status_code == 404 and "nope" in response.json()["detail"]


def test_bad_job_requests_are_refused_before_queueing(stack: Stack) -> None:
    assert submit(stack.runtime.url, "").status_code == 422
    assert submit(stack.runtime.url, "a" * 5001).status_code == 413


@pytest.mark.deep  # a service killed or restarted: make test-deep
def test_jobs_survive_a_killed_runtime(stack: Stack, tmp_path: Path) -> None:
    """Kill -9 with one job running and two queued: after a restart all three finish, and earlier ones still serve."""
    data_dir = tmp_path / "data"
    env = runtime_env(stack.gpu.url, stack.host_root, tmp_path / "view", data_dir)
    wrap, _ = container_view(stack.host_root, tmp_path / "view")
    with run_service("runtime.app:create_app", env, tmp_path, wrap=wrap) as first:
        finished = wait_for_job(
            first.url, Job.model_validate(submit(first.url, "Finished before the crash.").json()).id
        )
        assert finished.status == "done"
        ids = [Job.model_validate(submit(first.url, LONG_TEXT).json()).id for _ in range(3)]
        deadline = time.monotonic() + 60
        while Job.model_validate(httpx.get(f"{first.url}/api/v1/jobs/{ids[0]}").json()).status != "running":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        first.stop(signal.SIGKILL)
    with run_service("runtime.app:create_app", env, tmp_path, wrap=wrap) as second:
        results = [wait_for_job(second.url, job_id) for job_id in ids]
        assert [job.status for job in results] == ["done"] * 3, [job.error for job in results]
        assert results[0].attempts == 2, "the interrupted job ran again"
        again = Job.model_validate(httpx.get(f"{second.url}/api/v1/jobs/{finished.id}").json())
        assert again.status == "done" and isinstance(again.result, GenerateResult)
        assert httpx.get(again.result.video_url).status_code == 200


def test_full_queue_answers_429_with_retry_after(stack: Stack, tmp_path: Path) -> None:
    env = runtime_env(stack.gpu.url, stack.host_root, stack.host_root, tmp_path / "data", RUNTIME_MAX_QUEUED_JOBS="2")
    with run_service("runtime.app:create_app", env, tmp_path) as runtime:
        answers = [submit(runtime.url, LONG_TEXT) for _ in range(5)]
        codes = [answer.status_code for answer in answers]
        assert codes.count(202) >= 2 and 429 in codes, codes
        refused = answers[codes.index(429)]
        assert int(refused.headers["retry-after"]) >= 1
        assert "queue is full" in refused.json()["detail"]
        accepted = [Job.model_validate(answer.json()).id for answer in answers if answer.status_code == 202]
        assert all(wait_for_job(runtime.url, job_id).status == "done" for job_id in accepted), (
            "nothing accepted is lost"
        )


@pytest.mark.parametrize("limit", [0, 201])
def test_list_limit_is_bounded(stack: Stack, limit: int) -> None:
    assert httpx.get(f"{stack.runtime.url}/api/v1/jobs", params={"limit": limit}).status_code == 422
