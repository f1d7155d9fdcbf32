"""The Serve application of deploy/ray/ on a local Ray cluster (2 CPUs, loopback): generate end to end through the
runtime deployment, the gpu_service scaling 0 -> 1 on the first request, up to its maximum under load, back to 0
when idle, and not one request failed or lost on the way (uploads and jobs included, with no shared volume)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import httpx
import pytest

from contracts.runtime import GenerateResult, Job, UploadedPortrait
from gpu_service.config import DEFAULT_ASSETS
from tests.media_stream import decode
from tests.ray_cluster import ServeCluster, serve_cluster

pytestmark = pytest.mark.deep  # make test-deep


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeCluster]:
    with serve_cluster(tmp_path_factory.mktemp("ray-serve"), max_replicas=2) as running:
        yield running


def generate(url: str, text: str, **options: str) -> GenerateResult:
    response = httpx.post(f"{url}/api/v1/generate", json={"text": text, "language": "en", **options}, timeout=300)
    assert response.status_code == 200, response.text
    return GenerateResult.model_validate(response.json())


def video_of(url: str, result: GenerateResult) -> float:
    """Seconds of decoded video, checked against its sound."""
    response = httpx.get(httpx.URL(url).join(result.video_url), timeout=60)
    assert response.status_code == 200
    video = decode(response.content)
    assert video.synced_within(0.08) and abs(video.audio_s - result.duration_s) < 0.1
    return video.video_s


def test_the_runtime_answers_without_waking_the_gpu_service(cluster: ServeCluster) -> None:
    health = httpx.get(f"{cluster.url}/health", timeout=30).json()
    assert health["gpu_service"]["on_demand"] and health["gpu_service"]["reachable"] is None
    assert cluster.gpu_replicas() == 0


def test_first_request_scales_from_zero_load_scales_to_the_maximum_idle_returns_to_zero(
    cluster: ServeCluster, tmp_path: Path
) -> None:
    cluster.wait_for_replicas(0, timeout_s=60)
    started = time.monotonic()
    first = generate(cluster.url, "Hello from a cluster that was asleep.")
    print(f"cold start: generate answered after {time.monotonic() - started:.1f} s from zero replicas")
    assert video_of(cluster.url, first) > 1.0 and not first.fallback
    assert cluster.gpu_replicas() >= 1

    # An upload and a job, then a burst of requests: each request's calls must find its files on one replica.
    photo = tmp_path / "visitor.jpg"
    cv2.imwrite(str(photo), cv2.imread(str(DEFAULT_ASSETS / "images" / "astronaut_full.png")))
    with photo.open("rb") as handle:
        uploaded = httpx.post(f"{cluster.url}/api/v1/portraits", files={"file": ("visitor.jpg", handle)}, timeout=300)
    assert uploaded.status_code == 201, uploaded.text
    portrait = UploadedPortrait.model_validate(uploaded.json()).id
    job = httpx.post(f"{cluster.url}/api/v1/jobs", json={"text": "A job while the cluster grows.", "language": "en"})
    assert job.status_code == 202, job.text

    most = [cluster.gpu_replicas()]
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            most.append(cluster.gpu_replicas())
            time.sleep(0.25)

    # Long enough (~12 s on one replica) for a second replica to start (~4 s) and take its share.
    texts = [
        f"Visitor number {n} asks the avatar to read this out loud. It takes a little while, and that is fine."
        for n in range(12)
    ]
    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(lambda text: generate(cluster.url, text, portrait=portrait), texts))
    finally:
        done.set()
        watcher.join()
    assert max(most) == 2, f"replicas seen under load: {sorted(set(most))}"
    for result in results:
        assert video_of(cluster.url, result) > 2.0 and result.portrait == portrait

    job_id = Job.model_validate(job.json()).id
    deadline = time.monotonic() + 300
    while (state := Job.model_validate(httpx.get(f"{cluster.url}/api/v1/jobs/{job_id}").json())).status in (
        "queued",
        "running",
    ):
        assert time.monotonic() < deadline
        time.sleep(1)
    assert state.status == "done" and isinstance(state.result, GenerateResult), state

    idle = cluster.wait_for_replicas(0, timeout_s=60)
    print(f"scale to zero: {idle:.1f} s after the last request (downscale delays of 2 s and 4 s)")
    # Everything made while the replicas came and went is still there: videos live with the runtime.
    assert video_of(cluster.url, results[0]) > 2.0
