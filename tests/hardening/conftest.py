"""Fixtures shared with the runtime tests (the real two-service stack), and one gpu_service for the round-three
tests of live sessions and replies."""

from collections.abc import Iterator

import pytest

from common.process.launch import RunningService, run_service
from tests.runtime.conftest import stack

__all__ = ["round_three_gpu", "stack"]


@pytest.fixture(scope="session")
def round_three_gpu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    """Unconnected offers dropped after 3 s; replies without a sentence limit (short unless a request asks for
    more tokens), and a stall limit of 3 s, shorter than one long reply waits for another (and long enough for a
    busy machine's slowest token)."""
    root = tmp_path_factory.mktemp("round-three-gpu")
    env = {
        "GPU_OUTPUT_ROOT": str(root / "out"),
        "GPU_SESSIONS__MAX": "4",
        "GPU_SESSIONS__CONNECT_TIMEOUT_S": "3",
        "GPU_LLM__STALL_S": "3",
        "GPU_LLM__MAX_SENTENCES": "0",
        "GPU_LLM__EMBEDDED_MAX_SENTENCES": "0",
        "GPU_LLM__MAX_TOKENS": "24",
        "GPU_LLM__PRELOAD": "true",  # loaded at start, not in the middle of a test that counts threads
    }
    with run_service("gpu_service.app:create_app", env, root) as service:
        yield service
