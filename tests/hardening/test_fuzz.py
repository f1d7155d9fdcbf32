"""Schemathesis against both services' OpenAPI schemas: no 5xx, and every answer matches its documented schema."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from common.process.launch import RunningService
from harness.stack import local_stack
from tests.readiness import wait_for_language_model

pytestmark = pytest.mark.deep  # make test-deep

# Per operation and phase; the seed makes a failure reproducible. `make fuzz` runs 50 (about 8 minutes here); make
# test runs 10, which keeps every operation covered in a quarter of that time.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10"))
SEED = "20261125"
CONFIG = Path(__file__).with_name("schemathesis.toml")  # the documented exceptions


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningService, RunningService]]:
    base = tmp_path_factory.mktemp("fuzz")
    # Short text limits: the fuzzer's accepted texts then render in about a second each.
    runtime_env = {"RUNTIME_RATE_LIMIT_PER_MINUTE": "0", "RUNTIME_MAX_TEXT_CHARS": "60", "RUNTIME_LOG_LEVEL": "warning"}
    # Replies of a few tokens: the fuzzer's conversations are answered in about a second each too.
    gpu_env = {
        "GPU_MAX_TEXT_CHARS": "60",
        "GPU_LOG_LEVEL": "warning",
        "GPU_LLM__MAX_TOKENS": "8",
        "GPU_LLM__MAX_SENTENCES": "1",
        "GPU_LLM__PRELOAD": "true",
    }
    with local_stack(base / "gpu", base / "data", base / "logs", gpu_env=gpu_env, runtime_env=runtime_env) as pair:
        wait_for_language_model(pair[0].url)  # its load is not a slow answer
        yield pair


@pytest.mark.parametrize("which", ["gpu_service", "runtime"])
def test_schemathesis_finds_no_server_errors_and_no_schema_violations(
    services: tuple[RunningService, RunningService], which: str, tmp_path: Path
) -> None:
    service = services[0] if which == "gpu_service" else services[1]
    report = tmp_path / "report.xml"
    command = [
        str(Path(sys.executable).parent / "st"),
        "--config-file",
        str(CONFIG),
        "run",
        f"{service.url}/openapi.json",
        "--checks",
        "all",
        "--max-examples",
        str(EXAMPLES),
        "--seed",
        SEED,
        "--request-timeout",
        "120",
        "--report",
        "junit",
        "--report-junit-path",
        str(report),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=1200)
    summary = result.stdout[result.stdout.rfind("SUMMARY") :]
    print(f"schemathesis against {which}:\n{summary}")
    assert result.returncode == 0, result.stdout[-6000:]
    assert "Tested: 9" in result.stdout or "Tested:" in result.stdout
    assert report.is_file()
