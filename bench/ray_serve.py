"""Ray Serve (deploy/ray/serve.yaml on a local 2-CPU cluster, embedded engines): the cluster's memory when idle at
zero gpu_service replicas, the latency of a request that finds none (cold start), and throughput with at most 1
and at most 2 replicas, side by side. The file's autoscaling is used as it is, except that scale-down waits 2 s
(to zero: 4 s) instead of minutes."""

from __future__ import annotations

import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil

from tests.ray_cluster import ServeCluster, serve_cluster

QUICK_DOWNSCALE = {"downscale_delay_s": 2.0, "downscale_to_zero_delay_s": 4.0}
TEXT = "Welcome back. Today we talk about the weather, the sea, and the ships that sail on it."
REQUESTS = 8
CLIENTS = 4


def generate(url: str, text: str) -> float:
    """Seconds of video made."""
    response = httpx.post(f"{url}/api/v1/generate", json={"text": text, "language": "en"}, timeout=600)
    response.raise_for_status()
    return float(response.json()["duration_s"])


def ray_memory_bytes() -> int:
    """Proportional set size of every Ray process (GCS, raylet, workers, Serve's controller, proxy and replicas):
    shared pages (the object store) counted once, not per process."""
    total = 0
    for process in psutil.process_iter(["name", "cmdline"]):
        command = " ".join(process.info["cmdline"] or [])
        if "ray" in (process.info["name"] or "") or "ray::" in command or "/ray/" in command:
            try:
                total += process.memory_full_info().pss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
    return total


def cold_starts(cluster: ServeCluster, rounds: int = 3) -> list[float]:
    seconds = []
    for _ in range(rounds):
        cluster.wait_for_replicas(0, timeout_s=120)
        started = time.monotonic()
        generate(cluster.url, "Hello there.")
        seconds.append(time.monotonic() - started)
    return seconds


def throughput(cluster: ServeCluster) -> tuple[float, float, int]:
    """Videos a minute, seconds of video made per second, and the most replicas seen."""
    generate(cluster.url, "Warming up.")
    most = [cluster.gpu_replicas()]
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        futures = [pool.submit(generate, cluster.url, f"{TEXT} Number {n}.") for n in range(REQUESTS)]
        while not all(future.done() for future in futures):
            most.append(cluster.gpu_replicas())
            time.sleep(0.5)
        made = sum(future.result() for future in futures)
    elapsed = time.monotonic() - started
    return REQUESTS / elapsed * 60, made / elapsed, max(most)


def run() -> list[str]:
    lines = [f"Ray Serve (local cluster, 2 CPUs; {REQUESTS} requests from {CLIENTS} clients, embedded engines)"]
    rates = {}
    for replicas in (1, 2):
        scratch = Path(tempfile.mkdtemp(prefix="bench-ray-"))
        with serve_cluster(scratch, max_replicas=replicas, autoscaling=QUICK_DOWNSCALE) as cluster:
            if replicas == 1:
                time.sleep(10)  # settled: no replica of the gpu_service, the runtime idle
                lines.append(f"idle cluster at zero gpu_service replicas: {ray_memory_bytes() / 2**30:.2f} GiB (PSS)")
                starts = cold_starts(cluster)
                lines.append(
                    f"cold start (request to answer, from zero replicas, a short sentence): median "
                    f"{statistics.median(starts):.1f} s, range {min(starts):.1f}-{max(starts):.1f} s"
                )
            per_minute, video_per_s, most = throughput(cluster)
            rates[replicas] = per_minute
            lines.append(
                f"max_replicas {replicas}: {per_minute:.1f} videos/min, {video_per_s:.2f} s of video per second "
                f"(most replicas seen: {most})"
            )
    lines.append(f"2 replicas / 1 replica throughput: {rates[2] / rates[1]:.2f}x (2 cores shared by both)")
    return lines
