from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from common.process.launch import RunningService, run_service
from evaluator.config import EvalSettings
from evaluator.metrics.intelligibility import Listener, WhisperModelMissing

# Services started by tests load the language model when a test first asks for a reply, not at every start.
os.environ.setdefault("GPU_LLM__PRELOAD", "false")
# Services started by tests speak with espeak-ng, the instant engine, unless a test names another: Kokoro (the
# default) takes ~0.3 s per second of speech here, and has its own tests (tests/gpu_service/test_kokoro.py).
os.environ.setdefault("GPU_TTS_ENGINE", "espeak")
# ... with every part of voice matching on, so that the matching itself is tested quickly (by default espeak matches
# nothing: each part raised the word error rate on unseen voices; bench/voice_matching.py).
os.environ.setdefault("GPU_ESPEAK_MATCH_PARTS", '["f0", "eq", "warp"]')
# The GGUF the transformers engine is given (the embedded model's, in its tests) is converted once per test session,
# not once per engine made; the ~0.5 GB it takes goes when the session ends.
if "GPU_LLM__CONVERTED_DIR" not in os.environ:
    os.environ["GPU_LLM__CONVERTED_DIR"] = converted = tempfile.mkdtemp(prefix="llm-converted-")
    atexit.register(shutil.rmtree, converted, True)


@pytest.fixture(scope="session")
def gpu_output_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("gpu-output")


@pytest.fixture(scope="session")
def gpu_service(gpu_output_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    """The real gpu_service on a free loopback port, with its own output root."""
    logs = tmp_path_factory.mktemp("logs")
    with run_service("gpu_service.app:create_app", {"GPU_OUTPUT_ROOT": str(gpu_output_root)}, logs) as service:
        yield service


@pytest.fixture(scope="session")
def listener() -> Listener:
    """The real Whisper-base model (make test fetches it with scripts/fetch_whisper_model.py)."""
    model_dir: Path = EvalSettings().whisper_model_dir
    try:
        return Listener(model_dir)
    except WhisperModelMissing as error:
        pytest.fail(str(error))
