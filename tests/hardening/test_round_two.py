"""Defects found by an outside test (round two), each reproduced against real services: it failed before the fix."""

from __future__ import annotations

import io
import json
import random
import string
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest
import soundfile as sf

from common.concurrency.lru import LruCache
from common.process.launch import free_port, run_service
from contracts.runtime import Job
from gpu_service.assets import AssetReference
from gpu_service.config import DEFAULT_ASSETS
from gpu_service.engines.avatar.face import FaceAnalyzer
from harness.stack import local_stack
from tests.process_usage import resident_mb
from tests.runtime.conftest import Stack, in_private_mounts, namespaces_available, runtime_env, wait_for_job


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
    """Before: with GPU_SHARED_SECRET in the runtime's environment (one .env for both), the local
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


@pytest.fixture(scope="module")
def small_gpu(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("small-gpu")
    env = {"GPU_OUTPUT_ROOT": str(folder / "gpu"), "GPU_MAX_PORTRAIT_PIXELS": "1000000"}
    with run_service("gpu_service.app:create_app", env, folder) as service:
        yield service


def png(width: int, height: int) -> bytes:
    ok, encoded = cv2.imencode(".png", np.zeros((height, width, 3), np.uint8))
    assert ok
    return encoded.tobytes()


def test_a_portrait_too_large_is_refused_from_its_header_and_not_kept(small_gpu) -> None:
    """Before: cv2.imdecode ran first (a 30000x30000 PNG of 2.7 MB took 6.1 GB and 44 s), and refused portraits
    stayed in inputs/portraits."""
    stored = httpx.put(f"{small_gpu.url}/api/v1/inputs/portraits/big.png", content=png(2000, 1000)).json()
    answer = httpx.post(f"{small_gpu.url}/api/v1/portraits/check", json={"portrait": stored["path"]}, timeout=60)
    assert answer.status_code == 413 and "2000x1000" in answer.json()["detail"]
    assert "GPU_MAX_PORTRAIT_PIXELS" in answer.json()["detail"]
    assert not Path(stored["path"]).exists()
    blank = httpx.put(f"{small_gpu.url}/api/v1/inputs/portraits/blank.png", content=png(300, 300)).json()
    refused = httpx.post(f"{small_gpu.url}/api/v1/portraits/check", json={"portrait": blank["path"]}, timeout=60)
    assert refused.status_code == 422 and "no face" in refused.json()["detail"]
    assert not Path(blank["path"]).exists()


def test_face_and_voice_caches_are_bounded(tmp_path: Path) -> None:
    """Before: every distinct portrait and voice stayed in memory for good (150 uploads: +115 MB)."""
    photo = cv2.imread(str(DEFAULT_ASSETS / "images" / "astronaut.png"))
    analyzer = FaceAnalyzer(tmp_path, memory_items=2)
    for number in range(4):
        path = tmp_path / f"p{number}.png"
        cv2.imwrite(str(path), np.clip(photo.astype(int) + number, 0, 255).astype(np.uint8))  # distinct content
        analyzer.analyze(AssetReference(f"p{number}", path), 256)
    assert len(analyzer._memory) == 2
    cache: LruCache[str, int] = LruCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # now the most recent
    cache.put("c", 3)
    assert cache.get("b") is None and cache.get("a") == 1 and cache.get("c") == 3


def test_each_key_sees_only_its_own_jobs_videos_and_uploads(tmp_path: Path) -> None:
    """Before: one key listed another's jobs (with their text), downloaded its videos and used its voice."""
    keys = {"RUNTIME_API_KEYS": json.dumps(["alice-key", "bob-key"]), "RUNTIME_RATE_LIMIT_PER_MINUTE": "0"}
    alice, bob = {"X-API-Key": "alice-key"}, {"X-API-Key": "bob-key"}
    with local_stack(tmp_path / "gpu", tmp_path / "data", tmp_path, runtime_env=keys) as (_, runtime):
        url = runtime.url
        voice_file = (DEFAULT_ASSETS / "voices" / "librivox_en_reader.wav").read_bytes()
        voice = httpx.post(
            f"{url}/api/v1/voices", files={"file": ("me.wav", voice_file, "audio/wav")}, headers=alice, timeout=60
        ).json()["id"]
        made = httpx.post(
            f"{url}/api/v1/generate",
            json={"text": "Mine.", "language": "en", "voice": voice},
            headers=alice,
            timeout=120,
        )
        assert made.status_code == 200, made.text
        video = made.json()["video_url"]
        job = httpx.post(f"{url}/api/v1/jobs", json={"text": "A private note."}, headers=alice).json()["id"]

        assert httpx.get(video, headers=alice).status_code == 200
        assert httpx.get(video, headers=bob).status_code == 404
        assert httpx.get(f"{url}/api/v1/jobs/{job}", headers=alice).status_code == 200
        assert httpx.get(f"{url}/api/v1/jobs/{job}", headers=bob).status_code == 404
        assert [j["id"] for j in httpx.get(f"{url}/api/v1/jobs", headers=bob).json()["jobs"]] == []
        assert job in [j["id"] for j in httpx.get(f"{url}/api/v1/jobs", headers=alice).json()["jobs"]]
        borrowed = httpx.post(f"{url}/api/v1/generate", json={"text": "Yours?", "voice": voice}, headers=bob)
        assert borrowed.status_code == 404 and voice in borrowed.json()["detail"]
        assert httpx.get(f"{url}/api/v1/voices", headers=bob).json()["uploaded"] == []
        assert [v["id"] for v in httpx.get(f"{url}/api/v1/voices", headers=alice).json()["uploaded"]] == [voice]
        # Bundled voices and portraits stay shared.
        shared = httpx.post(
            f"{url}/api/v1/generate", json={"text": "Shared.", "voice": "librivox_en_reader"}, headers=bob, timeout=120
        )
        assert shared.status_code == 200


def test_request_bodies_are_bounded_while_they_arrive(tmp_path: Path) -> None:
    """Before: a 60 MB upload was spooled to disk before its 413, a 200 MB JSON body took the runtime to 737 MB."""
    env = {
        "RUNTIME_GPU_SERVICE_URL": f"http://127.0.0.1:{free_port()}",
        "RUNTIME_DATA_DIR": str(tmp_path / "data"),
        "TMPDIR": str(tmp_path / "tmp"),  # where Starlette would spool a multipart upload
    }
    (tmp_path / "tmp").mkdir()
    with run_service("runtime.app:create_app", env, tmp_path) as runtime:
        before = resident_mb(runtime.process.pid)
        declared = httpx.post(
            f"{runtime.url}/api/v1/voices", files={"file": ("big.wav", b"\0" * 60_000_000, "audio/wav")}, timeout=60
        )
        assert declared.status_code == 413 and "RUNTIME_MAX_VOICE_UPLOAD_BYTES" in declared.json()["detail"]

        def endless_json() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
            yield b'{"text": "'
            for _ in range(200):
                yield b"a" * 1_000_000

        streamed = httpx.post(
            f"{runtime.url}/api/v1/generate",
            content=endless_json(),
            headers={"content-type": "application/json"},
            timeout=60,
        )
        assert streamed.status_code == 413 and "RUNTIME_MAX_JSON_BYTES" in streamed.json()["detail"]
        assert resident_mb(runtime.process.pid) - before < 50
        assert not list((tmp_path / "tmp").iterdir()) and not list(
            (tmp_path / "data" / "uploads" / "incoming").iterdir()
        )


def wav(samples: np.ndarray, rate: int = 16_000) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, samples.astype(np.float32), rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


@pytest.mark.parametrize("level", [0.0, 10 ** (-70 / 20)])
def test_a_silent_recording_is_refused_as_a_voice(stack: Stack, level: float) -> None:
    """Before: silence was accepted (the loudest silent frame counted as speech), and every generate with it failed."""
    noise = level * np.random.default_rng(1).standard_normal(16_000 * 4)
    response = httpx.post(f"{stack.runtime.url}/api/v1/voices", files={"file": ("quiet.wav", wav(noise), "audio/wav")})
    assert response.status_code == 422 and "speech" in response.json()["detail"]


def test_retry_after_follows_how_fast_the_queue_drains(stack: Stack, tmp_path: Path) -> None:
    """Before: Retry-After counted the time jobs had waited in the queue too (200 s said for a 13 s drain)."""
    env = runtime_env(stack.gpu.url, stack.host_root, stack.host_root, tmp_path / "data", RUNTIME_MAX_QUEUED_JOBS="3")
    with run_service("runtime.app:create_app", env, tmp_path) as runtime:
        url = f"{runtime.url}/api/v1/jobs"
        batch = [Job.model_validate(httpx.post(url, json={"text": f"Number {n}."}).json()) for n in range(4)]
        done = [wait_for_job(runtime.url, job.id) for job in batch]  # the later ones waited in the queue
        run_s = (max(job.updated_at for job in done) - min(job.created_at for job in done)).total_seconds() / 4
        answers = [httpx.post(url, json={"text": "Crowd."}) for _ in range(6)]
        refused = next(answer for answer in answers if answer.status_code == 429)
        queued = 3
        retry_after = int(refused.headers["retry-after"])
        assert 1 <= retry_after <= 1.5 * run_s * queued + 1, (retry_after, run_s)


def fill(folder: Path) -> Path:
    """Write a file until the disk under `folder` is full."""
    filler = folder / "filler"
    with filler.open("wb") as sink:
        try:
            while True:
                sink.write(b"\0" * (1 << 20))
                sink.flush()
        except OSError:
            pass
    return filler


@pytest.mark.skipif(not namespaces_available(), reason="needs unshare to mount a small tmpfs")
def test_the_job_worker_survives_a_full_disk_and_finishes_once_space_is_back(stack: Stack, tmp_path: Path) -> None:
    """Before: a failed database write inside the job's error handler ended the worker; jobs then stayed queued
    forever while new ones still got 202 and /health said ok. STAND-IN for a full disk: a 64 MB tmpfs."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    small = in_private_mounts('mount -t tmpfs -o size=64m tmpfs "$1" && shift && exec "$@"', str(data_dir))
    env = runtime_env(stack.gpu.url, stack.host_root, stack.host_root, data_dir)
    with run_service("runtime.app:create_app", env, tmp_path, wrap=lambda command: [*small, *command]) as runtime:
        inside = Path(f"/proc/{runtime.process.pid}/root") / data_dir.relative_to("/")  # the runtime's view
        url = f"{runtime.url}/api/v1/jobs"
        before = Job.model_validate(httpx.post(url, json={"text": "Accepted before the disk filled up."}).json())
        filler = fill(inside)
        health = httpx.get(f"{runtime.url}/health").json()
        for _ in range(100):  # the job meets the full disk, the worker survives and says so
            health = httpx.get(f"{runtime.url}/health").json()
            if any("storage" in problem for problem in health["problems"]):
                break
            time.sleep(0.1)
        assert health["status"] == "degraded", health
        refused = httpx.post(url, json={"text": "Sent while the disk is full."})
        assert refused.status_code in (202, 507), refused.text  # accepted and kept, or refused: never lost
        filler.unlink()
        finished = wait_for_job(runtime.url, before.id, timeout_s=120)
        assert finished.status == "done", finished.error
        if refused.status_code == 202:
            assert wait_for_job(runtime.url, refused.json()["id"], timeout_s=120).status == "done"
        after = Job.model_validate(httpx.post(url, json={"text": "After the fault."}).json())
        assert wait_for_job(runtime.url, after.id, timeout_s=120).status == "done"
        assert httpx.get(f"{runtime.url}/health").json()["status"] == "ok"


def test_in_process_results_expire_too(tmp_path: Path) -> None:
    """Before: the fallback's app ran without its lifespan, so its retention loop never started."""
    env = {
        "RUNTIME_GPU_SERVICE_URL": f"http://127.0.0.1:{free_port()}",  # nothing listens: the fallback runs
        "RUNTIME_DATA_DIR": str(tmp_path / "data"),
        "GPU_RETENTION_HOURS": "0.0003",  # about a second
        "GPU_CLEANUP_INTERVAL_S": "0.5",
    }
    with run_service("runtime.app:create_app", env, tmp_path) as runtime:
        answer = httpx.post(
            f"{runtime.url}/api/v1/generate", json={"text": "Soon gone.", "language": "en"}, timeout=300
        )
        assert answer.status_code == 200 and answer.json()["fallback"] is True
        results = tmp_path / "data" / "gpu-local" / "video"
        assert list(results.glob("*.mp4"))
        deadline = time.monotonic() + 10
        while list(results.glob("*.mp4")) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not list(results.glob("*.mp4"))


@pytest.mark.skipif(not namespaces_available(), reason="needs unshare to mount a small tmpfs")
def test_a_full_disk_is_a_507_that_health_notices_and_leaves_no_partial_file(tmp_path: Path) -> None:
    """Before: soundfile's error is not an OSError, so TTS on a full disk answered 500 and left a partial WAV;
    /health looked at storage only at start. STAND-IN for a full disk: a 64 MB tmpfs."""
    root = tmp_path / "gpu"
    root.mkdir()
    small = in_private_mounts('mount -t tmpfs -o size=64m tmpfs "$1" && shift && exec "$@"', str(root))
    with run_service(
        "gpu_service.app:create_app", {"GPU_OUTPUT_ROOT": str(root)}, tmp_path, wrap=lambda c: [*small, *c]
    ) as gpu:
        inside = Path(f"/proc/{gpu.process.pid}/root") / root.relative_to("/")
        assert httpx.get(f"{gpu.url}/health").json()["status"] == "ok"
        filler = fill(inside)
        body = {"text": "A sentence that needs some room on the disk. " * 4, "language": "en"}
        answer = httpx.post(f"{gpu.url}/api/v1/tts", json=body, timeout=60)
        assert answer.status_code == 507 and "GPU_OUTPUT_ROOT" in answer.json()["detail"], answer.text
        assert not [path for path in (inside / "tts").glob("*") if path.name.endswith(".part")]
        time.sleep(5.5)  # /health checks again after its few seconds of cache
        health = httpx.get(f"{gpu.url}/health").json()
        assert health["status"] == "degraded" and any("GPU_OUTPUT_ROOT" in p for p in health["problems"])
        filler.unlink()
        time.sleep(5.5)
        assert httpx.get(f"{gpu.url}/health").json()["status"] == "ok"
        assert httpx.post(f"{gpu.url}/api/v1/tts", json=body, timeout=60).status_code == 200


def test_answers_do_not_leak_folders_or_follow_a_forged_host(stack: Stack) -> None:
    """Before: error messages carried absolute folders, and a forged Host header made video_url point anywhere."""
    forged = httpx.post(
        f"{stack.runtime.url}/api/v1/generate",
        json={"text": "Where am I?", "language": "en"},
        headers={"Host": "evil.example"},
        timeout=120,
    )
    assert forged.status_code == 200 and "evil.example" not in forged.json()["video_url"]
    assert forged.json()["video_url"].startswith(stack.runtime.url)
    outside = httpx.post(f"{stack.gpu.url}/api/v1/tts", json={"text": "Hi.", "language": "en", "voice": "/etc/passwd"})
    assert outside.status_code == 400 and "GPU_OUTPUT_ROOT" in outside.json()["detail"]
    for folder in (str(stack.host_root), str(DEFAULT_ASSETS)):
        assert folder not in outside.json()["detail"]


def test_options_lists_every_method_of_the_path(stack: Stack) -> None:
    """Before: OPTIONS answered `Allow: POST` on /jobs and /voices, which also answer GET."""
    for path in ("/api/v1/jobs", "/api/v1/voices"):
        answer = httpx.options(f"{stack.runtime.url}{path}")
        assert answer.status_code == 204
        assert {method.strip() for method in answer.headers["allow"].split(",")} >= {"GET", "POST", "OPTIONS"}
    assert httpx.options(f"{stack.runtime.url}/api/v1/nowhere").status_code == 404
