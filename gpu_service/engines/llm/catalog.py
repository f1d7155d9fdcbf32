"""The language-model engines the service knows, each with the check /health runs without loading it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from contracts.gpu_service import SUPPORTED_LANGUAGES
from gpu_service.config import Settings
from gpu_service.engines.llm.base import LLMEngine
from gpu_service.engines.llm.local_model import Decoding
from gpu_service.engines.registry import EngineSpec

SMOLLM2_LICENSE = "Apache-2.0 (SmolLM2-135M-Instruct, Hugging Face)"
# SmolLM2-135M's own metadata lists English only; asked in Mandarin or Spanish it writes nonsense.
SMOLLM2_LANGUAGES = frozenset({"en"})
# A model the operator chose is taken to speak all three (the reply's language is asked of it in the prompt).
OPERATOR_MODEL_LANGUAGES = frozenset(SUPPORTED_LANGUAGES)


def llm_specs(settings: Settings, device: str) -> list[EngineSpec[LLMEngine]]:
    llm = settings.llm

    def decoding() -> Decoding:
        return Decoding(
            llm.temperature,
            0.9,
            llm.repetition_penalty,
            llm.no_repeat_ngram,
            stall_s=llm.stall_s,
            queue_s=llm.queue_s,
            read_s=llm.timeout_s,
        )

    def embedded() -> LLMEngine:
        from gpu_service.engines.llm.llama_cpp_engine import LlamaCppEngine

        model = llm.smollm2_gguf
        # SMOLLM2_LANGUAGES: its replies' first words are checked to be English
        return LlamaCppEngine("smollm2", model, decoding(), llm.local_window, llm.threads, english_only=True)

    def operators() -> LLMEngine:
        from gpu_service.engines.llm.transformers_engine import TransformersEngine, model_folder

        assert llm.model is not None  # the precheck said so
        converted = llm.converted_dir or settings.cache_dir / "llm"
        return TransformersEngine(
            "transformers", model_folder(llm.model, converted), device, decoding(), llm.local_window
        )

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
            embedded,
            precheck=lambda: (
                _missing(llm.smollm2_gguf, "GPU_LLM__SMOLLM2_GGUF", "run scripts/fetch_llm_model.py") or _no_llama_cpp()
            ),
            languages=SMOLLM2_LANGUAGES,
            license=SMOLLM2_LICENSE,
            embedded=True,
        ),
        EngineSpec(
            "transformers",
            operators,
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


def _no_llama_cpp() -> str | None:
    if importlib.util.find_spec("llama_cpp") is None:
        return "llama-cpp-python is not installed: pip install -e '.[llm]' (it builds from source: a C++ compiler)"
    return None
