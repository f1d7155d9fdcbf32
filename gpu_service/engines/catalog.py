"""Every engine this service knows, with how to build it from the settings."""

from __future__ import annotations

from collections.abc import Callable

from gpu_service.config import Settings
from gpu_service.engines.face import FaceAnalyzer
from gpu_service.engines.liveportrait import LICENSE as LIVEPORTRAIT_LICENSE
from gpu_service.engines.liveportrait import LivePortraitOptions
from gpu_service.engines.liveportrait import unavailable_reason as liveportrait_unavailable
from gpu_service.engines.registry import EngineRegistry, EngineSpec
from gpu_service.engines.xtts import LICENSE as XTTS_LICENSE
from gpu_service.engines.xtts import XTTS_LANGUAGE, XttsOptions
from gpu_service.engines.xtts import unavailable_reason as xtts_unavailable


def build_registry(
    settings: Settings, faces: FaceAnalyzer, device: str, on_loaded: Callable[[str, float], None] | None = None
) -> EngineRegistry:
    xtts_options = XttsOptions(
        model_dir=settings.xtts_model_dir,
        download=settings.xtts_download,
        device=device,
        fp16=settings.xtts_fp16,
        cache_dir=settings.cache_dir,
        stream_chunk_tokens=settings.xtts_stream_chunk_tokens,
    )

    def espeak() -> object:
        from gpu_service.engines.espeak import EspeakEngine
        from gpu_service.engines.voice_profiles import VoiceProfileStore

        return EspeakEngine(VoiceProfileStore(settings.cache_dir))

    def animator() -> object:
        from gpu_service.engines.animator import AnimatorEngine

        return AnimatorEngine(faces)

    liveportrait_options = LivePortraitOptions(
        checkout=settings.liveportrait_dir,
        weights=settings.liveportrait_weights_dir,
        device=device,
        fp16=settings.liveportrait_fp16,
        batch_size=settings.liveportrait_batch,
    )

    def liveportrait() -> object:
        from gpu_service.engines.liveportrait import LivePortraitEngine

        return LivePortraitEngine(liveportrait_options, faces)

    def xtts() -> object:
        from gpu_service.engines.xtts import XttsEngine

        return XttsEngine(xtts_options)

    specs = [
        EngineSpec("espeak", "tts", frozenset({"en", "zh", "es"}), espeak),
        EngineSpec(
            "xtts",
            "tts",
            frozenset(XTTS_LANGUAGE),
            xtts,
            precheck=lambda: xtts_unavailable(xtts_options),
            license=XTTS_LICENSE,
        ),
        EngineSpec("animator", "avatar", frozenset(), animator),
        EngineSpec(
            "liveportrait",
            "avatar",
            frozenset(),
            liveportrait,
            precheck=lambda: liveportrait_unavailable(liveportrait_options),
            license=LIVEPORTRAIT_LICENSE,
        ),
    ]
    return EngineRegistry(
        specs, defaults={"tts": settings.tts_engine, "avatar": settings.avatar_engine}, on_loaded=on_loaded
    )
