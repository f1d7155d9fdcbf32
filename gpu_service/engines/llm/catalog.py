"""The language-model engines the service knows, each with the check /health runs without loading it."""

from __future__ import annotations

from pathlib import Path

from contracts.gpu_service import SUPPORTED_LANGUAGES
from gpu_service.config import Settings
from gpu_service.engines.llm.base import LLMEngine
from gpu_service.engines.registry import EngineSpec

SMOLLM2_LICENSE = "Apache-2.0 (SmolLM2-135M-Instruct, Hugging Face)"
# SmolLM2-135M's own metadata lists English only; asked in Mandarin or Spanish it writes nonsense.
SMOLLM2_LANGUAGES = frozenset({"en"})
# A model the operator chose is taken to speak all three (the reply's language is asked of it in the prompt).
OPERATOR_MODEL_LANGUAGES = frozenset(SUPPORTED_LANGUAGES)


def llm_specs(settings: Settings, device: str) -> list[EngineSpec[LLMEngine]]:
    llm = settings.llm

    def local(name: str, source: Path | None) -> LLMEngine:
        from gpu_service.engines.llm.transformers_engine import Decoding, TransformersEngine, model_folder

        assert source is not None  # the precheck said so
        decoding = Decoding(
            llm.temperature,
            0.9,
            llm.repetition_penalty,
            llm.no_repeat_ngram,
            stall_s=llm.stall_s,
            queue_s=llm.queue_s,
            read_s=llm.timeout_s,
        )
        converted = llm.converted_dir or settings.cache_dir / "llm"
        return TransformersEngine(name, model_folder(source, converted), device, decoding, llm.local_window)

    def openai() -> LLMEngine:
        from gpu_service.engines.llm.openai_engine import OpenAIEngine, OpenAIOptions

        assert llm.openai_base_url is not None
        options = OpenAIOptions(
            llm.openai_base_url,
            llm.openai_model,
            llm.openai_api_key,
            llm.openai_window,
            llm.temperature,
            5.0,
            llm.stall_s,
        )
        return OpenAIEngine(options)

    return [
        EngineSpec(
            "smollm2",
            lambda: local("smollm2", llm.smollm2_gguf),
            precheck=lambda: _missing(llm.smollm2_gguf, "GPU_LLM__SMOLLM2_GGUF", "run scripts/fetch_llm_model.py"),
            languages=SMOLLM2_LANGUAGES,
            license=SMOLLM2_LICENSE,
            embedded=True,
        ),
        EngineSpec(
            "transformers",
            lambda: local("transformers", llm.model),
            languages=OPERATOR_MODEL_LANGUAGES,
            precheck=lambda: _missing(llm.model, "GPU_LLM__MODEL", "point it at a model folder or .gguf file"),
        ),
        EngineSpec(
            "openai",
            openai,
            languages=OPERATOR_MODEL_LANGUAGES,
            precheck=lambda: (
                None
                if llm.openai_base_url
                else "no server: set GPU_LLM__OPENAI_BASE_URL (and GPU_LLM__OPENAI_MODEL) to an OpenAI-compatible API"
            ),
        ),
    ]


def _missing(path: Path | None, setting: str, hint: str) -> str | None:
    if path is None:
        return f"{setting} is not set: {hint}"
    if not path.exists():
        return f"no model at {setting} ({path.name}): {hint}"
    return None
