"""Chat: the language models on their own (time to first token, tokens/s), then end to end through the runtime:
from the message sent to the reply's first playable video fragment (the embedded voice and animator), with SmolLM2
in the gpu_service and through the openai engine to a loopback OpenAI-compatible server."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import httpx

from common.media.mp4_boxes import BoxReader
from common.process.launch import RunningService, run_service
from contracts.gpu_service import ChatTurn
from contracts.runtime import Conversation
from gpu_service.config import Settings
from gpu_service.engines.llm.base import Generation, LLMEngine
from gpu_service.engines.llm.llama_cpp_engine import LlamaCppEngine
from gpu_service.engines.llm.local_model import Decoding
from gpu_service.engines.llm.openai_engine import OpenAIEngine, OpenAIOptions
from gpu_service.engines.llm.transformers_engine import TransformersEngine, model_folder
from harness.stack import local_stack

QUESTIONS = ["What is your name?", "What do you like to do on weekends?", "Tell me about the sea.", "How are you?"]
MAX_TOKENS = 64


def llm_speed(engine: LLMEngine) -> tuple[float, float]:
    """Median time to first token and tokens/s over QUESTIONS (after one warm-up reply)."""
    firsts, rates = [], []
    for question in ["Hello!", *QUESTIONS]:
        messages = [ChatTurn(role="system", content="You are Ava."), ChatTurn(role="user", content=question)]
        generation = Generation()
        started = time.perf_counter()
        first = 0.0
        for _ in engine.stream(messages, MAX_TOKENS, generation):
            first = first or time.perf_counter() - started
        if question != "Hello!":
            firsts.append(first)
            rates.append((generation.tokens - 1) / (time.perf_counter() - started - first))
    return statistics.median(firsts), statistics.median(rates)


def first_fragment(url: str, text: str) -> tuple[float, Conversation]:
    """Seconds from sending `text` to a new conversation to the reply's first complete fragment."""
    conversation = httpx.post(f"{url}/api/v1/conversations", json={"language": "en"}).json()
    reader, first = BoxReader(), 0.0
    started = time.perf_counter()
    body = {"text": text, "stream": True}
    with httpx.stream("POST", f"{url}/api/v1/conversations/{conversation['id']}/messages", json=body, timeout=300) as r:
        r.raise_for_status()
        for chunk in r.iter_bytes():
            if not first and any(box.kind == "mdat" for box in reader.feed(chunk)):
                first = time.perf_counter() - started
    read = httpx.get(f"{url}/api/v1/conversations/{conversation['id']}").json()
    return first, Conversation.model_validate(read)


def run() -> list[str]:
    scratch = Path(tempfile.mkdtemp(prefix="bench-chat-"))
    settings = Settings()
    converted = scratch / "converted"
    started = time.perf_counter()
    folder = model_folder(settings.llm.smollm2_gguf, converted)
    convert_s = time.perf_counter() - started
    started = time.perf_counter()
    dequantized = TransformersEngine("smollm2", folder, "cpu", Decoding(0.0, 0.9, 1.2, 4, 30))
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    embedded = LlamaCppEngine("smollm2", settings.llm.smollm2_gguf, Decoding(0.0, 0.9, 1.2, 4, 30))
    llama_load_s = time.perf_counter() - started
    lines = [
        "Chat (embedded SmolLM2-135M-Instruct, its Q4_1 GGUF, CPU)",
        f"model: llama.cpp loads the file in {llama_load_s:.2f} s; transformers converts it (dequantizing) in "
        f"{convert_s:.1f} s on a first start, then loads it in {load_s:.2f} s",
    ]
    for name, engine in (
        ("llama.cpp, the service's", embedded),
        ("transformers, the same file dequantized", dequantized),
    ):
        ttft, rate = llm_speed(engine)
        lines.append(f"smollm2 ({name}, in process): first token {ttft * 1000:.0f} ms, {rate:.1f} tokens/s")
    del dequantized
    env = {"GPU_LLM__CONVERTED_DIR": str(converted)}
    with run_service("tests.llm_server:create_app", env, scratch) as server:
        remote = OpenAIEngine(OpenAIOptions(f"{server.url}/ok/v1", "smollm2", None, 8192, 0.0, 5, 30))
        ttft, rate = llm_speed(remote)
    lines.append(
        f"openai engine -> a loopback OpenAI-compatible server of the same model: first token {ttft * 1000:.0f} ms, "
        f"{rate:.1f} tokens/s (HTTP + SSE cost)"
    )
    gpu_env = {**env, "GPU_LLM__PRELOAD": "true"}
    with local_stack(scratch / "gpu", scratch / "runtime", scratch, gpu_env=gpu_env) as (_, runtime):
        lines.append(f"message -> first playable fragment of the reply, smollm2 in the gpu_service: {replies(runtime)}")
    with run_service("tests.llm_server:create_app", env, scratch) as server:
        openai_env = {**env, "GPU_LLM_ENGINE": "openai", "GPU_LLM__OPENAI_BASE_URL": f"{server.url}/ok/v1"}
        stack = local_stack(scratch / "gpu-openai", scratch / "runtime-openai", scratch, gpu_env=openai_env)
        with stack as (_, runtime):
            lines.append(
                "the same through the openai engine and a loopback OpenAI-compatible server (the same model behind "
                f"HTTP + SSE, as Ollama or llama.cpp's server would serve a real one): {replies(runtime)}"
            )
    return lines


def replies(runtime: RunningService) -> str:
    """Message -> first playable fragment over QUESTIONS, after a warm-up, and where the time went."""
    url = runtime.url
    first_fragment(url, "Hello!")  # warm: model, voice profile, face
    runs = [first_fragment(url, question) for question in QUESTIONS + QUESTIONS[:1]]
    firsts = [first for first, _ in runs]
    said = [conversation.messages[-1] for _, conversation in runs]
    tokens = statistics.median(r.timings.first_token_s or 0 for r in said if r.timings)
    sentence = statistics.median(r.timings.first_sentence_s or 0 for r in said if r.timings)
    return (
        f"{statistics.median(firsts) * 1000:.0f} ms median of {len(firsts)} (min {min(firsts) * 1000:.0f}, max "
        f"{max(firsts) * 1000:.0f}; target <= 1000 ms), of which first token {tokens * 1000:.0f} ms and first "
        f"sentence {sentence * 1000:.0f} ms (gpu_service clock); the default voice and the animator"
    )
