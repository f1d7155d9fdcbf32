"""Every engine this service knows, with how to build it from the settings."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any, get_args

from common.storage.whisper_model import missing_whisper_files
from contracts.gpu_service import SUPPORTED_LANGUAGES, AsrEngineName, AvatarEngineName, LlmEngineName, TtsEngineName
from gpu_service.config import Settings
from gpu_service.engines.asr.transcriber import Transcriber
from gpu_service.engines.avatar.face import FaceAnalyzer
from gpu_service.engines.avatar.liveportrait import LICENSE as LIVEPORTRAIT_LICENSE
from gpu_service.engines.avatar.liveportrait import unavailable_reason as liveportrait_unavailable
from gpu_service.engines.base import AvatarEngine, TTSEngine
from gpu_service.engines.llm.base import LLMEngine
from gpu_service.engines.llm.catalog import llm_specs
from gpu_service.engines.registry import Capability, EngineRegistry, EngineSpec
from gpu_service.engines.tts.kokoro_model import LICENSE as KOKORO_LICENSE
from gpu_service.engines.tts.kokoro_model import missing_packages as kokoro_missing
from gpu_service.engines.tts.languages import ESPEAK_LANGUAGES
from gpu_service.engines.tts.xtts import LICENSE as XTTS_LICENSE
from gpu_service.engines.tts.xtts import XTTS_LANGUAGE
from gpu_service.engines.tts.xtts import unavailable_reason as xtts_unavailable

if TYPE_CHECKING:
    from gpu_service.engines.tts.voice_profiles import VoiceProfileStore


def build_registry(
    settings: Settings, faces: FaceAnalyzer, device: str, on_loaded: Callable[[str, float], None] | None = None
) -> EngineRegistry:
    @lru_cache(maxsize=1)
    def voice_profiles() -> VoiceProfileStore:  # one store for the engines that match voices
        from gpu_service.engines.tts.voice_profiles import VoiceProfileStore

        return VoiceProfileStore(settings.cache_dir, settings.cache_items)

    def espeak() -> TTSEngine:
        from gpu_service.engines.tts.espeak import EspeakEngine

        return EspeakEngine(voice_profiles(), frozenset(settings.espeak_match_parts))

    def kokoro() -> TTSEngine:
        from gpu_service.engines.tts.kokoro import KokoroEngine

        return KokoroEngine(settings.kokoro, settings.cache_dir, voice_profiles())

    def xtts() -> TTSEngine:
        from gpu_service.engines.tts.xtts import XttsEngine

        return XttsEngine(settings.xtts, device, settings.cache_dir)

    def animator() -> AvatarEngine:
        from gpu_service.engines.avatar.animator import AnimatorEngine

        return AnimatorEngine(faces, settings.cache_items)

    def liveportrait() -> AvatarEngine:
        from gpu_service.engines.avatar.liveportrait import LivePortraitEngine

        return LivePortraitEngine(settings.liveportrait, device, faces, settings.cache_items)

    tts_specs: list[EngineSpec[TTSEngine]] = [
        EngineSpec(
            "kokoro",
            kokoro,
            languages=ESPEAK_LANGUAGES,
            precheck=kokoro_missing,
            license=KOKORO_LICENSE,
            embedded=True,
            clones_voice=False,
        ),
        EngineSpec("espeak", espeak, languages=ESPEAK_LANGUAGES, embedded=True, clones_voice=False),
        EngineSpec(
            "xtts",
            xtts,
            languages=frozenset(XTTS_LANGUAGE),
            precheck=lambda: xtts_unavailable(settings.xtts),
            license=XTTS_LICENSE,
            clones_voice=True,
        ),
    ]
    avatar_specs: list[EngineSpec[AvatarEngine]] = [
        EngineSpec("animator", animator, embedded=True),
        EngineSpec(
            "liveportrait",
            liveportrait,
            precheck=lambda: liveportrait_unavailable(settings.liveportrait),
            license=LIVEPORTRAIT_LICENSE,
        ),
    ]
    language_models = llm_specs(settings, device)
    _check_declared(tts_specs, get_args(TtsEngineName))
    _check_declared(avatar_specs, get_args(AvatarEngineName))
    _check_declared(language_models, get_args(LlmEngineName))

    def whisper() -> Transcriber:
        return Transcriber(settings.asr.model_dir, device, settings.asr.beam_size, settings.asr.threads)

    def whisper_missing() -> str | None:
        missing = missing_whisper_files(settings.asr.model_dir)
        return (
            f"no Whisper model in GPU_ASR__MODEL_DIR (lacks {', '.join(missing)}): run scripts/fetch_whisper_model.py"
            if missing
            else None
        )

    recognizers: list[EngineSpec[Transcriber]] = [
        EngineSpec(
            "whisper",
            whisper,
            languages=frozenset(SUPPORTED_LANGUAGES),
            precheck=whisper_missing,
            license="MIT (OpenAI Whisper)",
            embedded=True,
        )
    ]
    _check_declared(recognizers, get_args(AsrEngineName))
    idle = settings.idle_unload_s
    every: list[Sequence[EngineSpec[Any]]] = [tts_specs, avatar_specs, language_models, recognizers]
    known = {spec.name for specs in every for spec in specs}
    if unknown := sorted(set(idle) - known):
        raise ValueError(f"GPU_IDLE_UNLOAD_S names unknown engines {unknown}; known: {', '.join(sorted(known))}")
    return EngineRegistry(
        Capability("tts", tts_specs, settings.tts_engine, on_loaded, idle),
        Capability("avatar", avatar_specs, settings.avatar_engine, on_loaded, idle),
        Capability[LLMEngine]("llm", language_models, settings.llm_engine, on_loaded, idle),
        Capability("asr", recognizers, "whisper", on_loaded, idle),
    )


def _check_declared(specs: Sequence[EngineSpec[Any]], declared: tuple[str, ...]) -> None:
    """The wire contract lists engine names for clients; a new engine must be added there too."""
    names = [spec.name for spec in specs]
    if sorted(names) != sorted(declared):
        raise RuntimeError(f"engines {names} differ from the contract's {list(declared)}")
