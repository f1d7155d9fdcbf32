"""Defects found by an outside test (round two), each reproduced against real services: it failed before the fix."""

from __future__ import annotations

import json
import random
import string
from pathlib import Path

import httpx
import pytest

from common.launch import free_port, run_service
from tests.runtime.conftest import Stack


def test_metrics_do_not_grow_with_made_up_methods(stack: Stack) -> None:
    """Before: every random method became a label value (3,000 requests made 60,000 lines)."""
    url = stack.runtime.url

    def lines() -> int:
        return len(httpx.get(f"{url}/metrics").text.splitlines())

    rng = random.Random(7)

    def made_up_requests(count: int) -> None:
        with httpx.Client() as client:
            for _ in range(count):
                method = "".join(rng.choices(string.ascii_uppercase, k=8))
                client.request(method, f"{url}/api/v1/{rng.randrange(10**6)}")

    made_up_requests(20)  # the fixed labels they map to appear once ("other", "unmatched"),
    lines()  # and so do those of /metrics itself
    before = lines()
    made_up_requests(40)
    assert lines() == before, "40 more made-up requests added lines"
    assert 'method="other"' in httpx.get(f"{url}/metrics").text


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/generate", '{"text": "\\ud800 hello", "language": "en"}'),
        ("/api/v1/jobs", '{"text": "bad \\udfff", "language": "en"}'),
        ("/api/v1/generate", '{"text": "\\u200b\\ufeff\\u0000 \\u2028", "language": "en"}'),
    ],
)
def test_text_that_is_not_text_is_refused(stack: Stack, path: str, body: str) -> None:
    """Before: a lone surrogate answered 500; invisible-only text made a 0.04 s video."""
    response = httpx.post(f"{stack.runtime.url}{path}", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    assert "Unicode" in response.text or "empty" in response.text
    gpu = httpx.post(f"{stack.gpu.url}/api/v1/tts", content=body, headers={"content-type": "application/json"})
    assert gpu.status_code == 422, gpu.text


def test_without_keys_a_made_up_key_is_no_new_identity(tmp_path: Path) -> None:
    """Before: with auth off, every random X-API-Key got a fresh rate-limit bucket."""
    env = {
        "RUNTIME_GPU_SERVICE_URL": f"http://127.0.0.1:{free_port()}",
        "RUNTIME_DATA_DIR": str(tmp_path / "data"),
        "RUNTIME_RATE_LIMIT_PER_MINUTE": "6",
        "RUNTIME_RATE_LIMIT_BURST": "3",
    }
    with run_service("runtime.app:create_app", env, tmp_path) as runtime:
        codes = [
            httpx.post(
                f"{runtime.url}/api/v1/jobs", json={"text": "", "language": "en"}, headers={"X-API-Key": f"k{n}"}
            ).status_code
            for n in range(6)
        ]
    assert codes[:3] == [422, 422, 422] and 429 in codes[3:], codes


def test_the_fallback_needs_no_shared_secret(tmp_path: Path) -> None:
    """Before: with GPU_SHARED_SECRET in the runtime's environment (one .env for both), the in-process
    gpu_service demanded it and the fallback failed."""
    env = {
        "RUNTIME_GPU_SERVICE_URL": f"http://127.0.0.1:{free_port()}",  # nothing listens: the fallback runs
        "RUNTIME_DATA_DIR": str(tmp_path / "data"),
        "GPU_SHARED_SECRET": "one-env-for-both",
        "RUNTIME_GPU_SHARED_SECRET": "one-env-for-both",
    }
    with run_service("runtime.app:create_app", env, tmp_path) as runtime:
        answer = httpx.post(f"{runtime.url}/api/v1/generate", json={"text": "Fallback.", "language": "en"}, timeout=300)
    assert answer.status_code == 200, answer.text
    assert json.loads(answer.text)["fallback"] is True
