"""A faster-whisper (CTranslate2) model folder: the files scripts/fetch_whisper_model.py writes and every listener
(the gpu_service's ASR, the evaluator) loads."""

from __future__ import annotations

from pathlib import Path

WHISPER_MODEL_FILES = ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt")


def missing_whisper_files(model_dir: Path) -> list[str]:
    return [name for name in WHISPER_MODEL_FILES if not (model_dir / name).is_file()]
