from __future__ import annotations

from pathlib import Path

import pytest

from evaluator.config import EvalSettings
from evaluator.metrics.intelligibility import Listener, WhisperModelMissing


@pytest.fixture(scope="session")
def listener() -> Listener:
    """The real Whisper-base model (make test fetches it with scripts/fetch_whisper_model.py)."""
    model_dir: Path = EvalSettings().whisper_model_dir
    try:
        return Listener(model_dir)
    except WhisperModelMissing as error:
        pytest.fail(str(error))
