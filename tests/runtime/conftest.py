"""A real gpu_service and a real runtime on loopback, each with its own view of the shared output folder.

The runtime runs in a private mount namespace, as in a container: the gpu_service's folder is visible to it only
at another path (a bind mount), and the original path is hidden under an empty tmpfs. Results can reach the
runtime only through its path mapping.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from common.process.launch import RunningService, run_service
from contracts.runtime import Job

ISOLATE = 'mount --bind "$1" "$2" && mount -t tmpfs tmpfs "$1" && shift 2 && exec "$@"'


def in_private_mounts(script: str, *args: str) -> list[str]:
    """`sh -c script sh args...` in a private mount namespace: mounts made by `script` are seen by it alone."""
    return ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", *args]


def wait_for_job(url: str, job_id: str, timeout_s: float = 300) -> Job:
    """Poll until the job is done or failed."""
    deadline = time.monotonic() + timeout_s
    job = None
    while time.monotonic() < deadline:
        job = Job.model_validate(httpx.get(f"{url}/api/v1/jobs/{job_id}").json())
        if job.status in ("done", "failed"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} still {job.status if job else 'unknown'} after {timeout_s} s")


def namespaces_available() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-m", "--propagation", "private", "true"], capture_output=True)
    return probe.returncode == 0


@dataclass
class Stack:
    gpu: RunningService
    runtime: RunningService
    host_root: Path  # the gpu_service's output root
    local_root: Path  # the same folder as the runtime sees it
    data_dir: Path
    isolated: bool  # True: the runtime cannot see host_root at all

    def restart_env(self) -> dict[str, str]:
        return runtime_env(self.gpu.url, self.host_root, self.local_root, self.data_dir)


def runtime_env(gpu_url: str, host_root: Path, local_root: Path, data_dir: Path, **extra: str) -> dict[str, str]:
    return {
        "RUNTIME_GPU_SERVICE_URL": gpu_url,
        "RUNTIME_GPU_OUTPUT_HOST_ROOT": str(host_root),
        "RUNTIME_GPU_OUTPUT_LOCAL_ROOT": str(local_root),
        "RUNTIME_DATA_DIR": str(data_dir),
        "RUNTIME_RATE_LIMIT_PER_MINUTE": "0",  # tests send bursts; test_hardening turns it on where it is tested
        **extra,
    }


def container_view(host_root: Path, local_root: Path) -> tuple[Callable[[list[str]], list[str]] | None, bool]:
    """A command wrapper giving the runtime `local_root` in place of `host_root`, and whether it isolates."""
    if namespaces_available():
        local_root.mkdir(parents=True, exist_ok=True)

        def wrap(command: list[str]) -> list[str]:
            return in_private_mounts(ISOLATE, str(host_root), str(local_root), *command)

        return wrap, True
    local_root.symlink_to(host_root, target_is_directory=True)  # same files, different path: mapping still runs
    return None, False


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    base = tmp_path_factory.mktemp("stack")
    host_root, local_root, data_dir = base / "host-view", base / "container-view", base / "runtime-data"
    host_root.mkdir()
    wrap, isolated = container_view(host_root, local_root)
    with run_service("gpu_service.app:create_app", {"GPU_OUTPUT_ROOT": str(host_root)}, base) as gpu:
        env = runtime_env(gpu.url, host_root, local_root, data_dir, RUNTIME_MAX_VOICE_UPLOAD_BYTES="3000000")
        with run_service("runtime.app:create_app", env, base, wrap=wrap) as runtime:
            yield Stack(gpu, runtime, host_root, local_root, data_dir, isolated)
