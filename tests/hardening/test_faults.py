"""Faults with real processes: the gpu_service killed mid-request, an unwritable output folder, retention."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from common.process.launch import free_port, run_service
from contracts.runtime import GenerateResult, Job
from tests.runtime.conftest import in_private_mounts, namespaces_available, runtime_env, wait_for_job

LONG_TEXT = (
    "The gpu service is about to disappear in the middle of this request. "
    "It should not matter to the person waiting, who gets either a video or a clear answer. "
    "Nothing may be left half written, and no job may stay running forever. "
) * 2


def one_machine_env(gpu_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    """Both services on one machine: the gpu_service's output root has the same path for both."""
    return runtime_env(gpu_url, tmp_path / "gpu", tmp_path / "gpu", tmp_path / "data", **extra)


def wait_for_stage(url: str, job_id: str, stages: set[str], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = Job.model_validate(httpx.get(f"{url}/api/v1/jobs/{job_id}").json())
        if job.stage in stages:
            return
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} never reached {stages}")


@pytest.mark.deep  # a service killed or restarted: make test-deep
def test_job_survives_the_gpu_service_being_killed_and_restarted(tmp_path: Path) -> None:
    port = free_port()
    gpu_env = {"GPU_OUTPUT_ROOT": str(tmp_path / "gpu")}
    gpu = run_service("gpu_service.app:create_app", gpu_env, tmp_path, port=port)
    first = gpu.__enter__()
    env = one_machine_env(first.url, tmp_path, RUNTIME_FALLBACK="off")
    with run_service("runtime.app:create_app", env, tmp_path) as runtime:
        job = Job.model_validate(httpx.post(f"{runtime.url}/api/v1/jobs", json={"text": LONG_TEXT}, timeout=30).json())
        wait_for_stage(runtime.url, job.id, {"speaking"})
        first.stop(signal.SIGKILL)  # mid-request, no goodbye
        gpu.__exit__(None, None, None)
        time.sleep(8)  # a restart that takes a while: before, 3 attempts were spent within 6 s and the job failed
        with run_service("gpu_service.app:create_app", gpu_env, tmp_path, port=port):
            finished = wait_for_job(runtime.url, job.id)
    assert finished.status == "done", finished.error
    assert finished.attempts == 1 and finished.error is None  # waiting for the gpu_service uses up no attempt


@pytest.mark.deep  # a service killed or restarted: make test-deep
def test_job_fails_with_a_reason_when_the_gpu_service_stays_down(tmp_path: Path) -> None:
    gpu_env = {"GPU_OUTPUT_ROOT": str(tmp_path / "gpu")}
    with run_service("gpu_service.app:create_app", gpu_env, tmp_path) as gpu:
        env = one_machine_env(gpu.url, tmp_path, RUNTIME_FALLBACK="off", RUNTIME_GPU_RETRY_DEADLINE_S="6")
        with run_service("runtime.app:create_app", env, tmp_path) as runtime:
            job = Job.model_validate(
                httpx.post(f"{runtime.url}/api/v1/jobs", json={"text": LONG_TEXT}, timeout=30).json()
            )
            wait_for_stage(runtime.url, job.id, {"speaking"})
            gpu.stop(signal.SIGKILL)
            finished = wait_for_job(runtime.url, job.id)
    assert finished.status == "failed"
    assert finished.error is not None and "gave up after" in finished.error
    assert "RUNTIME_GPU_RETRY_DEADLINE_S" in finished.error and "gpu_service" in finished.error


@pytest.mark.deep  # a service killed or restarted: make test-deep
@pytest.mark.parametrize(("fallback", "expected"), [("off", 503), ("local", 200)])
def test_sync_generate_when_the_gpu_service_dies_mid_request(tmp_path: Path, fallback: str, expected: int) -> None:
    gpu_env = {"GPU_OUTPUT_ROOT": str(tmp_path / "gpu")}
    with run_service("gpu_service.app:create_app", gpu_env, tmp_path) as gpu:
        env = one_machine_env(gpu.url, tmp_path, RUNTIME_FALLBACK=fallback)
        with run_service("runtime.app:create_app", env, tmp_path) as runtime:
            answers: list[httpx.Response] = []
            caller = threading.Thread(
                target=lambda: answers.append(
                    httpx.post(
                        f"{runtime.url}/api/v1/generate", json={"text": LONG_TEXT, "language": "en"}, timeout=300
                    )
                )
            )
            caller.start()
            time.sleep(0.8)  # inside tts or avatar: both take longer than this for this text
            gpu.stop(signal.SIGKILL)
            caller.join()
    answer = answers[0]
    assert answer.status_code == expected, answer.text
    if expected == 503:
        assert "gpu_service" in answer.json()["detail"]
    else:
        assert answer.json()["fallback"] is True


@pytest.mark.skipif(not namespaces_available(), reason="needs unshare to mount a read-only folder")
def test_unwritable_output_root_starts_degraded_and_names_the_folder(tmp_path: Path) -> None:
    root = tmp_path / "readonly"
    root.mkdir()
    readonly = in_private_mounts('mount -t tmpfs -o ro tmpfs "$1" && shift && exec "$@"', str(root))
    with run_service(
        "gpu_service.app:create_app",
        {"GPU_OUTPUT_ROOT": str(root)},
        tmp_path,
        wrap=lambda command: [*readonly, *command],
    ) as gpu:
        health = httpx.get(f"{gpu.url}/health").json()
        assert health["status"] == "degraded"
        assert any("GPU_OUTPUT_ROOT" in problem and "cannot write" in problem for problem in health["problems"])
        assert not any(str(root) in problem for problem in health["problems"]), "settings are named, not paths"
        response = httpx.post(f"{gpu.url}/api/v1/tts", json={"text": "Hello.", "language": "en"}, timeout=60)
        assert response.status_code == 507
        assert "GPU_OUTPUT_ROOT" in response.json()["detail"] and str(root) not in response.json()["detail"]
        assert gpu.process.poll() is None  # still serving, not crash-looping


def test_retention_deletes_old_videos_and_jobs(tmp_path: Path) -> None:
    gpu_env = {
        "GPU_OUTPUT_ROOT": str(tmp_path / "gpu"),
        "GPU_RETENTION_HOURS": "0.0003",
        "GPU_CLEANUP_INTERVAL_S": "0.5",
    }
    with run_service("gpu_service.app:create_app", gpu_env, tmp_path) as gpu:
        env = one_machine_env(
            gpu.url,
            tmp_path,
            RUNTIME_RETENTION_HOURS="0.0003",  # about a second
            RUNTIME_CLEANUP_INTERVAL_S="0.5",
        )
        with run_service("runtime.app:create_app", env, tmp_path) as runtime:
            job = Job.model_validate(
                httpx.post(f"{runtime.url}/api/v1/jobs", json={"text": "Short."}, timeout=30).json()
            )
            done = wait_for_job(runtime.url, job.id)
            assert done.status == "done" and isinstance(done.result, GenerateResult)
            health = httpx.get(f"{runtime.url}/health").json()
            assert health["disk"]["used_bytes"] > 0 and health["disk"]["free_bytes"] > 0
            time.sleep(3.5)
            assert httpx.get(f"{runtime.url}/api/v1/videos/{done.result.video_id}").status_code == 404
            assert httpx.get(f"{runtime.url}/api/v1/jobs/{job.id}").status_code == 404
            assert not list((tmp_path / "gpu" / "video").glob("*.mp4"))
            assert not list((tmp_path / "gpu" / "tts").glob("*.wav"))
