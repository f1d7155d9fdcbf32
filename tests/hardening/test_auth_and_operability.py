"""Auth, CORS, rate limits, request ids, JSON logs and /metrics, on real services over loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from common.process.launch import RunningService
from contracts.runtime import Job
from gpu_service.config import DEFAULT_ASSETS
from harness.stack import local_stack
from tests.runtime.conftest import wait_for_job

KEY = "key-for-tests"
SECRET = "shared-secret-for-tests"
STREAM_KEY = "key-of-the-stream-test"  # its own rate-limit bucket


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningService, RunningService]]:
    base = tmp_path_factory.mktemp("guarded")
    runtime_env = {
        "RUNTIME_API_KEYS": json.dumps([KEY, "second-key", STREAM_KEY]),
        "RUNTIME_GPU_SHARED_SECRET": SECRET,
        "RUNTIME_CORS_ORIGINS": json.dumps(["https://app.example"]),
        "RUNTIME_RATE_LIMIT_PER_MINUTE": "6",
        "RUNTIME_RATE_LIMIT_BURST": "3",
        "RUNTIME_FALLBACK": "off",
    }
    gpu_env = {"GPU_SHARED_SECRET": SECRET}
    with local_stack(base / "gpu", base / "data", base / "logs", gpu_env=gpu_env, runtime_env=runtime_env) as pair:
        yield pair


def bearer(key: str = KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_health_is_open_and_says_auth_is_on(guarded: tuple[RunningService, RunningService]) -> None:
    gpu, runtime = guarded
    # Without a key, only the status: nothing about folders, engines or the gpu_service's address.
    assert httpx.get(f"{runtime.url}/health").json() == {"status": "ok", "service": "runtime"}
    health = httpx.get(f"{runtime.url}/health", headers=bearer()).json()
    assert health["auth"] is True and health["gpu_service"]["reachable"] is True  # the secret reached gpu /health
    assert httpx.get(f"{gpu.url}/health").json() == {"status": "ok", "service": "gpu_service"}
    assert "engines" in httpx.get(f"{gpu.url}/health", headers=bearer(SECRET)).json()


@pytest.mark.parametrize("path", ["/api/v1/jobs", "/api/v1/voices", "/metrics", "/docs", "/openapi.json"])
def test_everything_else_needs_a_key(guarded: tuple[RunningService, RunningService], path: str) -> None:
    _, runtime = guarded
    missing = httpx.get(f"{runtime.url}{path}")
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert "RUNTIME_API_KEYS" in missing.json()["detail"] and "missing" in missing.json()["detail"]
    wrong = httpx.get(f"{runtime.url}{path}", headers=bearer("nope"))
    assert wrong.status_code == 401 and "not valid" in wrong.json()["detail"]
    assert httpx.get(f"{runtime.url}{path}", headers=bearer()).status_code == 200
    assert httpx.get(f"{runtime.url}{path}", headers={"X-API-Key": "second-key"}).status_code == 200


def test_gpu_service_refuses_calls_without_the_shared_secret(guarded: tuple[RunningService, RunningService]) -> None:
    gpu, _ = guarded
    assert httpx.get(f"{gpu.url}/api/v1/voices").status_code == 401
    assert httpx.get(f"{gpu.url}/api/v1/voices", headers=bearer(SECRET)).status_code == 200


def test_generate_passes_the_secret_and_the_request_id(guarded: tuple[RunningService, RunningService]) -> None:
    gpu, runtime = guarded
    headers = {**bearer(), "X-Request-ID": "trace-me-42"}
    response = httpx.post(
        f"{runtime.url}/api/v1/generate", json={"text": "Hello there.", "language": "en"}, headers=headers, timeout=120
    )
    assert response.status_code == 200, response.text
    assert response.headers["x-request-id"] == "trace-me-42"
    # Both services logged the request, as JSON lines carrying the same id.
    for service in (runtime, gpu):
        lines = [json.loads(line) for line in Path(service.log).read_text().splitlines() if line.startswith("{")]
        tagged = [line for line in lines if line.get("request_id") == "trace-me-42"]
        assert tagged, f"no log line with the request id in {service.log}"
        assert {"time", "level", "service", "logger", "message"} <= set(tagged[0])
    # An id that could break logs or headers is replaced by a fresh one.
    odd = httpx.get(f"{runtime.url}/health", headers={"X-Request-ID": "bad id\twith tab"})
    assert odd.headers["x-request-id"] != "bad id\twith tab" and len(odd.headers["x-request-id"]) == 32


def test_metrics_count_requests_jobs_stages_and_engine_loads(guarded: tuple[RunningService, RunningService]) -> None:
    gpu, runtime = guarded
    httpx.post(
        f"{runtime.url}/api/v1/generate", json={"text": "Metrics.", "language": "en"}, headers=bearer(), timeout=120
    )
    text = httpx.get(f"{runtime.url}/metrics", headers=bearer()).text
    assert 'http_requests_total{method="POST",route="/api/v1/generate",status="200"}' in text
    assert "runtime_jobs_queued " in text and "runtime_jobs_running " in text
    assert 'runtime_stage_duration_seconds_count{stage="first_bytes"}' in text
    assert 'runtime_stage_duration_seconds_count{stage="total"}' in text
    gpu_text = httpx.get(f"{gpu.url}/metrics", headers=bearer(SECRET)).text
    assert 'gpu_service_engine_load_seconds{engine="espeak"}' in gpu_text
    assert 'gpu_service_stage_duration_seconds_count{stage="speak_first_bytes"}' in gpu_text
    assert 'route="/api/v1/speak"' in gpu_text


def test_cors_allows_only_the_configured_origin(guarded: tuple[RunningService, RunningService]) -> None:
    _, runtime = guarded
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
    allowed = httpx.options(f"{runtime.url}/api/v1/jobs", headers={"Origin": "https://app.example", **preflight})
    assert allowed.headers.get("access-control-allow-origin") == "https://app.example"
    other = httpx.options(f"{runtime.url}/api/v1/jobs", headers={"Origin": "https://evil.example", **preflight})
    assert "access-control-allow-origin" not in other.headers


def test_the_streamed_path_is_guarded_and_traced(guarded: tuple[RunningService, RunningService]) -> None:
    """Auth, the shared secret on the hop to the gpu_service and request ids apply to streams as to the rest."""
    _, runtime = guarded
    body = {"text": "A guarded stream.", "language": "en", "stream": True}
    assert httpx.post(f"{runtime.url}/api/v1/generate", json=body).status_code == 401
    headers = {**bearer(STREAM_KEY), "X-Request-ID": "st-1"}
    with httpx.stream("POST", f"{runtime.url}/api/v1/generate", json=body, headers=headers, timeout=120) as response:
        assert response.status_code == 200 and response.headers["x-request-id"] == "st-1"
        data = response.read()
    assert data[4:8] == b"ftyp" and b"moof" in data


def test_rate_limit_per_client(guarded: tuple[RunningService, RunningService]) -> None:
    _, runtime = guarded
    body = {"text": "", "language": "en"}  # refused (422) after the limiter: cheap, and still counted

    def post(key: str) -> httpx.Response:
        return httpx.post(f"{runtime.url}/api/v1/jobs", json=body, headers=bearer(key), timeout=30)

    answers = [post("second-key") for _ in range(5)]
    codes = [answer.status_code for answer in answers]
    assert codes[:3] == [422, 422, 422] and 429 in codes[3:], codes
    limited = next(answer for answer in answers if answer.status_code == 429)
    assert int(limited.headers["retry-after"]) >= 1 and "per minute" in limited.json()["detail"]
    assert post(KEY).status_code == 422  # another client has its own bucket


def test_wrong_gpu_secret_is_an_operator_error(tmp_path: Path) -> None:
    env = {
        "RUNTIME_GPU_SHARED_SECRET": "not-the-secret",
        "RUNTIME_FALLBACK": "off",
        "RUNTIME_RATE_LIMIT_PER_MINUTE": "0",
    }
    with local_stack(
        tmp_path / "g", tmp_path / "d", tmp_path, gpu_env={"GPU_SHARED_SECRET": SECRET}, runtime_env=env
    ) as (
        _,
        runtime,
    ):
        response = httpx.post(f"{runtime.url}/api/v1/generate", json={"text": "Hi.", "language": "en"}, timeout=60)
        # A job fails at once, without retries: no retry can mend a configuration.
        job = Job.model_validate(httpx.post(f"{runtime.url}/api/v1/jobs", json={"text": "Hi."}).json())
        failed = wait_for_job(runtime.url, job.id, timeout_s=20)
    assert response.status_code in (502, 503)
    assert "GPU_SHARED_SECRET" in response.json()["detail"]
    assert failed.status == "failed" and failed.attempts == 1 and "GPU_SHARED_SECRET" in (failed.error or "")


def test_the_page_is_open_its_data_is_not(guarded: tuple[RunningService, RunningService]) -> None:
    """The page's files load without a key (the page then asks for one); previews and uploads stay per key."""
    _, runtime = guarded
    page = httpx.get(f"{runtime.url}/")
    assert page.status_code == 200 and "<title>Realtime Avatar</title>" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert httpx.get(f"{runtime.url}/web/js/main.js").status_code == 200
    assert httpx.get(f"{runtime.url}/webx").status_code == 401  # a prefix opens its folder, not look-alikes
    assert httpx.get(f"{runtime.url}/api/v1/voices/librivox_en_reader/preview").status_code == 401
    assert httpx.post(f"{runtime.url}/", headers={}).status_code == 401  # only reading is open

    with (DEFAULT_ASSETS / "voices" / "librivox_en_reader.wav").open("rb") as handle:
        mine = httpx.post(
            f"{runtime.url}/api/v1/voices", files={"file": ("mine.wav", handle)}, headers=bearer(), timeout=60
        ).json()
    assert httpx.get(f"{runtime.url}{mine['preview_url']}", headers=bearer()).status_code == 200
    assert httpx.get(f"{runtime.url}{mine['preview_url']}", headers=bearer("second-key")).status_code == 404
