"""The LiveKit and Pipecat integrations, each run in its own environment (make integrations creates them) against a
real gpu_service started here: their own tests drive the avatar stream with livekit's and pipecat's real types."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from common.process.launch import REPO, RunningService, run_service


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    root = tmp_path_factory.mktemp("integrations")
    with run_service("gpu_service.app:create_app", {"GPU_OUTPUT_ROOT": str(root / "out")}, root) as running:
        yield running


@pytest.mark.parametrize("integration", ["livekit", "pipecat"])
def test_the_integration_passes_its_own_tests_against_the_service(service: RunningService, integration: str) -> None:
    python = REPO / f".venv-{integration}" / "bin" / "python"
    if not python.exists():
        pytest.fail(f"{python} is missing: `make integrations` creates each integration's environment")
    package = Path("integrations") / integration
    config = ["-c", str(package / "pyproject.toml"), "--rootdir", str(package)]
    result = subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", *config, str(package / "tests")],
        cwd=REPO,
        env={**os.environ, "AVATAR_STREAM_URL": service.url},
        capture_output=True,
        text=True,
        timeout=600,
    )
    report = result.stdout[-6000:] + result.stderr[-3000:]
    assert result.returncode == 0, report
    assert " passed" in report and "skipped" not in report, report
