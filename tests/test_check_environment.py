"""scripts/check_environment.py: passes on this machine, and names what is missing when something is."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def check(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "scripts/check_environment.py", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
    )


def test_this_machine_passes_and_optional_engines_are_notes(tmp_path: Path) -> None:
    result = check("--service", "gpu", GPU_OUTPUT_ROOT=str(tmp_path), GPU_PORT="1")
    assert "[ok  ] espeak-ng: 1.52" in result.stdout
    assert "[note] engine xtts: no XTTS model" in result.stdout
    assert "[note] engine liveportrait: no LivePortrait checkout" in result.stdout
    assert result.returncode == 0, result.stdout


def test_a_missing_whisper_model_fails_with_the_fix(tmp_path: Path) -> None:
    result = check("--service", "evaluator", EVAL_WHISPER_MODEL_DIR=str(tmp_path / "none"))
    assert result.returncode == 1
    assert "[FAIL] Whisper model" in result.stdout and "fetch_whisper_model.py" in result.stdout
