"""Every engine this service knows, with how to build it from the settings."""

from __future__ import annotations

from gpu_service.config import Settings
from gpu_service.engines.face import FaceAnalyzer
from gpu_service.engines.registry import EngineRegistry, EngineSpec


def build_registry(settings: Settings, faces: FaceAnalyzer) -> EngineRegistry:
    def espeak() -> object:
        from gpu_service.engines.espeak import EspeakEngine
        from gpu_service.engines.voice_profiles import VoiceProfileStore

        return EspeakEngine(VoiceProfileStore(settings.cache_dir))

    def animator() -> object:
        from gpu_service.engines.animator import AnimatorEngine

        return AnimatorEngine(faces)

    specs = [
        EngineSpec("espeak", "tts", frozenset({"en", "zh", "es"}), espeak),
        EngineSpec("animator", "avatar", frozenset(), animator),
    ]
    return EngineRegistry(specs, defaults={"tts": settings.tts_engine, "avatar": settings.avatar_engine})
