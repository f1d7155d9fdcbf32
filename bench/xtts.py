"""XTTS code path on the tiny random stand-in checkpoint (real weights cannot exist here): load, latents,
synthesis and time to first streamed chunk. These time the plumbing, not XTTS-v2 itself; see GPU_SERVICE.md
for public figures of the real model."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from gpu_service.assets import AssetReference
from gpu_service.config import DEFAULT_ASSETS
from gpu_service.engines.base import synthesize
from gpu_service.engines.tts.xtts import XttsEngine
from gpu_service.engines.tts.xtts_settings import XttsSettings
from tests.gpu_service.tiny_xtts import build_tiny_xtts

TEXT = "Hello there, how are you today?"


def run() -> list[str]:
    scratch = Path(tempfile.mkdtemp(prefix="bench-xtts-"))
    tick = time.perf_counter()
    model_dir = build_tiny_xtts(scratch / "model")
    build_s = time.perf_counter() - tick
    engine = XttsEngine(XttsSettings(model_dir=model_dir, fp16=False), "cpu", scratch / "cache")
    voice = AssetReference("librivox_en_reader", DEFAULT_ASSETS / "voices" / "librivox_en_reader.wav")
    tick = time.perf_counter()
    engine.conditioning(voice)
    latents_s = time.perf_counter() - tick
    tick = time.perf_counter()
    speech = synthesize(engine, TEXT, "en", voice, match_voice=False)
    synth_s = time.perf_counter() - tick
    tick = time.perf_counter()
    stream = engine.stream(TEXT, "en", voice, match_voice=False)
    next(stream)
    first_chunk_s = time.perf_counter() - tick
    for _ in stream:
        pass
    stream_s = time.perf_counter() - tick
    return [
        "XTTS code path (STAND-IN: 2-layer random checkpoint on CPU; not XTTS-v2's speed)",
        f"build checkpoint {build_s:.1f} s, load {engine.load_s:.2f} s, latents {latents_s:.2f} s (cached after)",
        f"synthesis RTF {synth_s / speech.duration_s:.2f} ({speech.duration_s:.2f} s audio); "
        f"stream: first chunk after {first_chunk_s:.2f} s = {first_chunk_s / stream_s:.2f} x the whole stream",
    ]
