from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from common.launch import RunningService, run_service

# Services started by tests load the language model when a test first asks for a reply, not at every start.
os.environ.setdefault("GPU_LLM__PRELOAD", "false")
# The embedded model's GGUF is converted once per test session, not once per service started.
os.environ.setdefault("GPU_LLM__CONVERTED_DIR", tempfile.mkdtemp(prefix="llm-converted-"))


@pytest.fixture(scope="session")
def gpu_output_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("gpu-output")


@pytest.fixture(scope="session")
def gpu_service(gpu_output_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    """The real gpu_service on a free loopback port, with its own output root."""
    logs = tmp_path_factory.mktemp("logs")
    with run_service("gpu_service.app:create_app", {"GPU_OUTPUT_ROOT": str(gpu_output_root)}, logs) as service:
        yield service
