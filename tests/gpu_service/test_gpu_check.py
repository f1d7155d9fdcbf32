"""scripts/gpu_check.py, run as a user would, on the stand-ins: the tiny XTTS checkpoint and LivePortrait's real
code with random weights (STAND-INS for weights that cannot be downloaded here). On a GPU host with the real
weights only the figures differ; `--random-weights` builds them at full size for speed and memory."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from tests.gpu_service.liveportrait_weights import ADAPTER, build_random_weights
from tests.gpu_service.tiny_xtts import build_tiny_xtts

pytestmark = pytest.mark.deep  # make test-deep

REPO = Path(__file__).resolve().parents[2]


def test_gpu_check_prints_the_table_from_a_real_service(tmp_path: Path) -> None:
    xtts = build_tiny_xtts(tmp_path / "xtts", max_audio_tokens=8)  # ~0.4 s of speech: two frames at 5 fps
    weights = build_random_weights(tmp_path / "liveportrait")
    rows_file = tmp_path / "rows.json"
    command = [
        sys.executable,
        str(REPO / "scripts" / "gpu_check.py"),
        "--xtts-dir", str(xtts),
        "--liveportrait-dir", str(ADAPTER),
        "--liveportrait-weights", str(weights),
        "--languages", "zh",  # the languages' loop is the script's own; a second row cost ~20 s more
        "--lengths", "short",
        "--fps", "5",
        "--size", "256",
        "--device", "cpu",
        "--json", str(rows_file),
    ]  # fmt: skip
    run = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "device: cpu" in run.stdout and "xtts" in run.stdout and "liveportrait" in run.stdout
    assert "TTS RTF" in run.stdout and "1st frag" in run.stdout
    rows = json.loads(rows_file.read_text())
    assert [(row["language"], row["length"]) for row in rows] == [("zh", "short")]
    for row in rows:
        assert row["tts_first_chunk_s"] > 0 and 0 < row["audio_s"] < 5 and row["tts_rtf"] > 0
        assert row["speak_first_fragment_s"] > 0 and row["frames"] >= 2 and row["render_fps"] > 0
        assert row["resident_peak_gb"] > 0.3 and math.isnan(row["device_peak_gb"])  # no GPU memory on a CPU
