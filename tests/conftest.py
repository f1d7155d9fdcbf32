from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from common.launch import RunningService, run_service


@pytest.fixture(scope="session")
def gpu_output_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("gpu-output")


@pytest.fixture(scope="session")
def gpu_service(gpu_output_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    """The real gpu_service on a free loopback port, with its own output root."""
    logs = tmp_path_factory.mktemp("logs")
    with run_service("gpu_service.app:create_app", {"GPU_OUTPUT_ROOT": str(gpu_output_root)}, logs) as service:
        yield service
