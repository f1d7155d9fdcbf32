"""Both services on loopback, as `make demo` and `make evaluate` run them: one machine, one shared output folder."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from common.process.launch import RunningService, run_service


@contextmanager
def local_stack(
    gpu_root: Path,
    data_dir: Path,
    logs: Path,
    gpu_env: dict[str, str] | None = None,
    runtime_env: dict[str, str] | None = None,
) -> Iterator[tuple[RunningService, RunningService]]:
    """Start the gpu_service (with `gpu_env` added to its settings), then the runtime pointed at it; stop both."""
    logs.mkdir(parents=True, exist_ok=True)
    with run_service("gpu_service.app:create_app", {"GPU_OUTPUT_ROOT": str(gpu_root), **(gpu_env or {})}, logs) as gpu:
        env = {
            "RUNTIME_GPU_SERVICE_URL": gpu.url,
            "RUNTIME_GPU_OUTPUT_HOST_ROOT": str(gpu_root),
            "RUNTIME_GPU_OUTPUT_LOCAL_ROOT": str(gpu_root),  # same machine: the shared folder has one path
            "RUNTIME_DATA_DIR": str(data_dir),
            **(runtime_env or {}),
        }
        with run_service("runtime.app:create_app", env, logs) as runtime:
            yield gpu, runtime
