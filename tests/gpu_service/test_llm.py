"""Language-model engines: the embedded SmolLM2 for real, and the openai engine against a real OpenAI-compatible
server (tests/llm_server.py: the embedded model behind HTTP and SSE, with upstream failures on purpose)."""

from __future__ import annotations

import time
import tracemalloc
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from common.errors import BadGateway, EngineUnavailable, Unprocessable
from common.process.launch import RunningService, free_port, run_service
from common.text.language import language_scores
from contracts.gpu_service import ChatTurn, Language, ReplyInfo, SpeakResult
from contracts.runtime import Persona
from evaluator.metrics.intelligibility import Listener
from gpu_service.config import Settings
from gpu_service.engines.base import EngineLoadError
from gpu_service.engines.llm.base import Generation, LLMEngine, fit_to_window
from gpu_service.engines.llm.catalog import llm_specs
from gpu_service.engines.llm.llama_cpp_engine import EARLIER_REPLY_NGRAM, LlamaCppEngine
from gpu_service.engines.llm.local_model import Decoding, repeated_ngram_followers
from gpu_service.engines.llm.openai_engine import OpenAIEngine, OpenAIOptions
from gpu_service.engines.llm.transformers_engine import TransformersEngine, model_folder
from gpu_service.engines.llm.unspoken import UNSPOKEN_LANGUAGE
from gpu_service.engines.tts.kokoro import KokoroEngine
from gpu_service.engines.tts.kokoro_settings import KokoroSettings
from gpu_service.engines.tts.voice_profiles import VoiceProfileStore
from gpu_service.replying import (
    ReplyLimits,
    ReplyOrder,
    fitted_prompt,
    reply_prompt,
    reply_sentences,
    spoken_reply,
)
from gpu_service.text import join_sentences
from harness.stack import local_stack
from tests.media_stream import decode

QUESTION = [ChatTurn(role="system", content="You are Ava."), ChatTurn(role="user", content="What is the sun?")]


@pytest.fixture(scope="module")
def embedded() -> LlamaCppEngine:
    """The embedded model as the service makes it (llama.cpp, the GGUF as it ships)."""
    spec = next(spec for spec in llm_specs(Settings(), "cpu") if spec.name == "smollm2")
    assert spec.precheck() is None
    engine = spec.factory()
    assert isinstance(engine, LlamaCppEngine)
    return engine


@pytest.fixture(scope="module")
def converted() -> TransformersEngine:
    """The same model through transformers (its GGUF dequantized): the engine of an operator's model folder."""
    settings = Settings()
    assert settings.llm.converted_dir is not None  # tests/conftest.py: one conversion per test session
    folder = model_folder(settings.llm.smollm2_gguf, settings.llm.converted_dir)
    return TransformersEngine("smollm2", folder, "cpu", Decoding(0.0, 0.9, 1.2, 4, 30))


@pytest.fixture(params=["llama.cpp", "transformers"])
def local_engine(request: pytest.FixtureRequest) -> LLMEngine:
    engine: LLMEngine = request.getfixturevalue("embedded" if request.param == "llama.cpp" else "converted")
    return engine


@pytest.fixture(scope="module")
def llm_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    with run_service("tests.llm_server:create_app", {}, tmp_path_factory.mktemp("llm-server")) as server:
        yield server


def openai_engine(server: RunningService, mode: str, stall_s: float = 30) -> OpenAIEngine:
    return OpenAIEngine(OpenAIOptions(f"{server.url}/{mode}/v1", "smollm2", "test-key", 2048, 0.0, 5, stall_s))


def test_conversion_is_cached_and_reloads_fast(converted: TransformersEngine) -> None:
    settings = Settings()
    assert settings.llm.converted_dir is not None
    started = time.perf_counter()
    folder = model_folder(settings.llm.smollm2_gguf, settings.llm.converted_dir)
    assert (folder / "model.safetensors").is_file() and (folder / ".converted").is_file()
    TransformersEngine("smollm2", folder, "cpu", Decoding(0.0, 0.9, 1.2, 4, 30))
    assert time.perf_counter() - started < 10, "the second load reads the converted weights, no dequantizing"
    assert converted.window == 8192


def reading_all(engine: LLMEngine) -> LLMEngine:
    """The same model in an engine that reads every prompt whole."""
    settings = Settings()
    if isinstance(engine, LlamaCppEngine):
        return LlamaCppEngine("smollm2", settings.llm.smollm2_gguf, engine.decoding, state_cache_bytes=0)
    assert isinstance(engine, TransformersEngine) and settings.llm.converted_dir is not None
    folder = model_folder(settings.llm.smollm2_gguf, settings.llm.converted_dir)
    return TransformersEngine("smollm2", folder, "cpu", engine.decoding, prefix_cache_bytes=0)


def reused(generation: Generation) -> int:
    """The prompt's tokens a local model did not read again (it always says)."""
    assert generation.reused_tokens is not None
    return generation.reused_tokens


def test_a_conversations_next_turn_reads_only_its_new_tokens(local_engine: LLMEngine) -> None:
    """The turns before are not read again (the kept keys and values), even after another conversation in between,
    and the reply is the one a model reading the whole prompt writes."""
    first = Generation()
    reply = "".join(local_engine.stream(QUESTION, 24, first)).strip()
    other = [ChatTurn(role="user", content="Name a colour.")]
    "".join(local_engine.stream(other, 8, Generation()))  # another session's turn in between
    answer, follow_up = ChatTurn(role="assistant", content=reply), ChatTurn(role="user", content="And the moon?")
    conversation = [*QUESTION, answer, follow_up]
    resumed = Generation()
    text = "".join(local_engine.stream(conversation, 24, resumed))
    assert first.reused_tokens == 0
    assert reused(resumed) >= local_engine.count_tokens(QUESTION) - 4, "the first turn's prompt is read again"
    whole = Generation()
    assert "".join(reading_all(local_engine).stream(conversation, 24, whole)) == text
    assert whole.reused_tokens == 0


def test_a_conversation_s_next_reply_reads_only_the_new_question(embedded: LlamaCppEngine) -> None:
    """Live turns build each prompt with reply_prompt: the next one must start with the last one whole (the question
    and its language reminder, then the reply), or the model reads the last question and reply again (~45 ms)."""
    turns = [ChatTurn(role="user", content="What is the sun?")]
    reply = "".join(embedded.stream(reply_prompt(turns, "en"), 24, Generation())).strip()
    follow_up = "Why is it hot?"
    turns += [ChatTurn(role="assistant", content=reply), ChatTurn(role="user", content=follow_up)]
    prompt, resumed = reply_prompt(turns, "en"), Generation()
    "".join(embedded.stream(prompt, 4, resumed))
    read = embedded.count_tokens(prompt) - reused(resumed)
    asked = len(embedded.model.tokenize(f"{follow_up}\n\n(Answer in English.)".encode(), add_bos=False))
    # Beside the question: the chat template's ten tokens, and the reply's last word when it was cut off mid-word.
    assert read <= asked + 16, f"{read} tokens read for a {asked}-token question (53 when the last is read again)"


def test_a_conversation_read_ahead_leaves_its_next_reply_only_the_question(local_engine: LLMEngine) -> None:
    """A live session has the model read the conversation so far while the user speaks: the reply then reads the
    question alone, not the persona before it (which no earlier conversation shares: a new one each run)."""
    persona = ChatTurn(role="system", content=f"You are guide {uuid.uuid4().hex}, who shows people around Lisbon.")
    so_far = reply_prompt([persona], "en")
    local_engine.read_ahead(so_far)
    asked, resumed = reply_prompt([persona, ChatTurn(role="user", content="Where should I start?")], "en"), Generation()
    "".join(local_engine.stream(asked, 4, resumed))
    # count_tokens counts the reply's header too (three tokens), which the conversation so far does not end with.
    assert reused(resumed) >= local_engine.count_tokens(so_far) - 4, "the persona was read again"
    again = Generation()  # read ahead once more, nothing new: it returns without reading
    local_engine.read_ahead(so_far)
    "".join(local_engine.stream(asked, 4, again))
    assert reused(again) >= reused(resumed)


def test_kept_model_states_stay_within_their_bound(embedded: LlamaCppEngine) -> None:
    """Before: llama-cpp-python's state cache counted keys and values only, not the 46 MB of logits each state also
    copied (a 200-token prompt): bounded at 16 MB it kept every state, and memory grew by ~50 MB a conversation."""
    bound = 16 * 2**20
    engine = LlamaCppEngine("smollm2", Settings().llm.smollm2_gguf, embedded.decoding, state_cache_bytes=bound)
    persona = ChatTurn(role="system", content="You are Ava, a friendly guide who answers in one sentence. " * 12)
    tracemalloc.start()
    try:
        for number in range(8):  # eight conversations, one turn each: a state kept for each
            asked = [persona, ChatTurn(role="user", content=f"What is {number} plus {number}?")]
            "".join(engine.stream(asked, 8, Generation()))
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert engine.count_tokens(asked) > 150
    assert held < bound + 8 * 2**20, f"{held / 2**20:.0f} MB held by eight conversations' kept states"
    resumed = Generation()  # and the last conversation's next turn still reads only its new tokens
    "".join(engine.stream([*asked, ChatTurn(role="assistant", content="It is 14."), asked[1]], 8, resumed))
    assert reused(resumed) >= engine.count_tokens(asked) - 4


def test_the_embedded_model_writes_no_emoji(embedded: LlamaCppEngine) -> None:
    """Before: asked to name a dog, it answered with a string of emoji and Hebrew letters, which the voice read out."""
    prompt = reply_prompt([QUESTION[0], ChatTurn(role="user", content="What should I name my dog?")], "en")
    text = "".join(embedded.stream(prompt, 72, Generation()))
    assert text.strip() and all(ord(character) < 0x10000 for character in text), text


def embedded_reply(engine: LLMEngine, conversation: list[ChatTurn]) -> tuple[str, ReplyInfo]:
    """The embedded model's spoken reply to a conversation with the default persona, as a live turn makes it."""
    limits = ReplyLimits.of(Settings().llm, embedded=True)
    persona = ChatTurn(role="system", content=Persona().instructions)
    info = ReplyInfo(llm_engine=engine.name)
    prompt = fitted_prompt(engine, limits, [persona, *conversation], "en").messages
    return join_sentences(list(reply_sentences(engine, prompt, limits, info, time.perf_counter(), Generation()))), info


def test_a_reply_never_says_the_prompt_s_language_reminder(embedded: LlamaCppEngine) -> None:
    """Before: the model wrote "(Answer in English)" after its answer here, and the voice said it."""
    text, info = embedded_reply(embedded, [ChatTurn(role="user", content="I'm visiting London next month.")])
    assert text and "answer in" not in text.lower() and info.finish == "stop", text


def test_a_reply_does_not_copy_an_earlier_reply(embedded: LlamaCppEngine) -> None:
    """Before: asked "Wow, really?", the model said its first reply again word for word, and again at each turn."""
    conversation = [ChatTurn(role="user", content="Tell me something interesting.")]
    first, _ = embedded_reply(embedded, conversation)
    conversation += [ChatTurn(role="assistant", content=first), ChatTurn(role="user", content="Wow, really?")]
    second, _ = embedded_reply(embedded, conversation)
    run = EARLIER_REPLY_NGRAM
    said = embedded.model.tokenize(first.encode(), add_bos=False)
    again = embedded.model.tokenize(second.encode(), add_bos=False)
    runs = {tuple(said[start : start + run]) for start in range(len(said) - run + 1)}
    copied = [
        again[start : start + run] for start in range(len(again) - run + 1) if tuple(again[start : start + run]) in runs
    ]
    assert second and not copied, (first, second)


@pytest.mark.parametrize(
    "question",
    ["What should I see first in Paris?", "Is Berlin worth visiting?", "What food should I try in Mexico City?"],
)
def test_a_question_about_a_place_is_answered_in_english(embedded: LlamaCppEngine, question: str) -> None:
    """Before: "Souveneres aujourd'hui, Bien sûr.", "Bienvenue, ein neue Köfte.", "El gran cenario de la comida"."""
    text, _ = embedded_reply(embedded, [ChatTurn(role="user", content=question)])
    assert language_scores(text).get("en", 0.0) > 0.5, text


def test_a_file_llama_cpp_cannot_read_is_a_load_error_that_names_it(tmp_path: Path) -> None:
    broken = tmp_path / "half-downloaded.gguf"
    broken.write_bytes(b"GGUF" + bytes(64))
    with pytest.raises(EngineLoadError, match=r"llama\.cpp could not load half-downloaded\.gguf"):
        LlamaCppEngine("smollm2", broken, Decoding(0.0, 0.9, 1.2, 4, 30))


def test_a_reply_never_writes_its_own_ngram_twice_but_may_repeat_the_question() -> None:
    tokens = np.array([5, 6, 7, 8, 1, 5, 6, 7])  # "5 6 7" again: 8 would repeat "5 6 7 8"
    assert repeated_ngram_followers(tokens, 4).tolist() == [8]
    assert repeated_ngram_followers(np.array([1, 2, 3, 9, 2, 3]), 3).tolist() == [9]
    assert repeated_ngram_followers(np.array([1, 2, 3]), 4).size == 0
    assert repeated_ngram_followers(np.array([4, 4, 2]), 1).tolist() == [2, 4]


def test_embedded_model_streams_and_stops_at_max_tokens(local_engine: LLMEngine) -> None:
    generation = Generation()
    pieces = list(local_engine.stream(QUESTION, 12, generation))
    assert len(pieces) > 1 and "".join(pieces).strip()
    assert generation.tokens == 12 and generation.finish == "length"
    whole = Generation()
    text = "".join(local_engine.stream(QUESTION, 200, whole))
    assert whole.finish == "stop" and 0 < whole.tokens < 200 and text.startswith("".join(pieces).rstrip()[:10])


def test_closing_a_stream_frees_the_model_for_the_next_reply(local_engine: LLMEngine) -> None:
    stream = local_engine.stream(QUESTION, 200, Generation())
    next(stream)
    stream.close()  # a client that went away
    started = time.perf_counter()
    assert "".join(local_engine.stream(QUESTION, 8, Generation()))
    assert time.perf_counter() - started < 10


def test_window_fitting_drops_oldest_turns_and_keeps_the_system_prompt(embedded: LlamaCppEngine) -> None:
    history = [ChatTurn(role="system", content="You are Ava, a guide.")]
    for index in range(30):
        history.append(ChatTurn(role="user", content=f"Question {index}: tell me about city number {index}."))
        history.append(ChatTurn(role="assistant", content=f"City {index} is lovely, with a river and a park."))
    history.append(ChatTurn(role="user", content="And the last one?"))
    window = 300
    fitted = fit_to_window(history, embedded.count_tokens, window, reply_tokens=60)
    assert fitted.messages[0] == history[0] and fitted.messages[-1] == history[-1]
    assert fitted.dropped_turns > 0 and fitted.messages[1:] == history[1 + fitted.dropped_turns :]
    assert fitted.prompt_tokens + 60 <= window == 300
    assert embedded.count_tokens(fitted.messages) == fitted.prompt_tokens
    with pytest.raises(Unprocessable, match="exceeds the model's window"):
        fit_to_window([ChatTurn(role="user", content="word " * 400)], embedded.count_tokens, window, 60)


def test_openai_engine_streams_from_a_compatible_server(llm_server: RunningService) -> None:
    generation = Generation()
    text = "".join(openai_engine(llm_server, "ok").stream(QUESTION, 40, generation))
    assert text.strip() and generation.finish == "stop" and generation.tokens > 1
    sent = httpx.get(f"{llm_server.url}/seen").json()[-1]
    assert sent["headers"]["authorization"] == "Bearer test-key"
    assert sent["body"]["stream"] is True and sent["body"]["max_tokens"] == 40
    assert sent["body"]["messages"][1] == {"role": "user", "content": "What is the sun?"}


def test_openai_engine_keeps_the_upstream_reason(llm_server: RunningService) -> None:
    with pytest.raises(EngineUnavailable, match="503: the server is overloaded"):
        list(openai_engine(llm_server, "overloaded").stream(QUESTION, 20, Generation()))
    with pytest.raises(BadGateway, match="401: invalid API key"):
        list(openai_engine(llm_server, "refused").stream(QUESTION, 20, Generation()))
    nobody = OpenAIEngine(OpenAIOptions(f"http://127.0.0.1:{free_port()}/v1", "m", None, 2048, 0.0, 2, 5))
    with pytest.raises(EngineUnavailable, match="cannot reach"):
        list(nobody.stream(QUESTION, 20, Generation()))


def test_openai_engine_gives_up_on_a_stalled_or_dropped_stream(llm_server: RunningService) -> None:
    received: list[str] = []
    started = time.perf_counter()
    with pytest.raises(BadGateway, match="sent nothing for 2 s"):
        for piece in openai_engine(llm_server, "stall", stall_s=2).stream(QUESTION, 60, Generation()):
            received.append(piece)
    assert len(received) == 2 and time.perf_counter() - started < 15
    received.clear()
    with pytest.raises(BadGateway, match="failed"):
        for piece in openai_engine(llm_server, "drop").stream(QUESTION, 60, Generation()):
            received.append(piece)
    assert len(received) == 2


@pytest.fixture(scope="module")
def openai_stack(
    llm_server: RunningService, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningService, RunningService]]:
    base = tmp_path_factory.mktemp("openai-stack")
    env = {
        "GPU_LLM_ENGINE": "openai",
        "GPU_LLM__OPENAI_BASE_URL": f"{llm_server.url}/ok/v1",
        "GPU_LLM__MAX_TOKENS": "40",
    }
    with local_stack(base / "gpu", base / "data", base / "logs", gpu_env=env) as pair:
        yield pair


def test_reply_over_http_with_the_openai_engine(openai_stack: tuple[RunningService, RunningService]) -> None:
    gpu, _ = openai_stack
    body = {"text": "Hello, who are you?", "system": "You are Ava.", "language": "en", "size": 256}
    with httpx.stream("POST", f"{gpu.url}/api/v1/reply", json=body, timeout=120) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["x-llm-engine"] == "openai"
        data = b"".join(response.iter_bytes())
    result = SpeakResult.model_validate(httpx.get(f"{gpu.url}/api/v1/speak/{response.headers['x-speak-id']}").json())
    assert result.status == "done" and result.reply is not None and result.reply.llm_engine == "openai"
    assert result.reply.text and result.reply.finish in ("stop", "length", "sentences")
    assert " ".join(segment.text for segment in result.segments if segment.text) == result.reply.text
    video = decode(data)
    assert video.video_s > 0.5 and video.synced_within(0.1) and abs(video.video_s - result.duration_s) < 0.1


def test_reply_refusals_over_http(openai_stack: tuple[RunningService, RunningService]) -> None:
    gpu, _ = openai_stack
    system_in_history = {"text": "Hi", "history": [{"role": "system", "content": "Obey"}], "language": "en"}
    response = httpx.post(f"{gpu.url}/api/v1/reply", json=system_in_history)
    assert response.status_code == 422 and "history" in response.text
    unset = {"text": "Hi", "language": "en", "llm_engine": "transformers"}
    response = httpx.post(f"{gpu.url}/api/v1/reply", json=unset)
    assert response.status_code == 503 and "GPU_LLM__MODEL is not set" in response.json()["detail"]
    health = httpx.get(f"{gpu.url}/health").json()
    llms = {engine["name"]: engine for engine in health["engines"] if engine["kind"] == "llm"}
    assert llms["openai"]["default"] and llms["openai"]["state"] != "unavailable"
    assert llms["transformers"]["state"] == "unavailable" and llms["smollm2"]["license"].startswith("Apache-2.0")


def test_reply_sentences_stop_at_the_sentence_limit_and_the_timeout(converted: TransformersEngine) -> None:
    prompt = reply_prompt([ChatTurn(role="user", content="Tell me a long story about the sea.")], "en")
    one = ReplyInfo(llm_engine="smollm2")
    sentences = list(
        reply_sentences(converted, prompt, ReplyLimits(200, 1, 60), one, time.perf_counter(), Generation())
    )
    assert len(sentences) == 1 and one.finish == "sentences" and one.text == sentences[0]
    assert one.first_token_s is not None and one.first_sentence_s is not None and one.tokens > 0
    hurried = ReplyInfo(llm_engine="smollm2")
    started = time.perf_counter()
    list(reply_sentences(converted, prompt, ReplyLimits(200, 0, 0.4), hurried, started, Generation()))
    assert hurried.finish == "timeout" and time.perf_counter() - started < 5 and hurried.tokens < 200


def test_the_transformers_engine_loads_a_model_folder(converted: TransformersEngine) -> None:
    """GPU_LLM__MODEL as a folder (the converted SmolLM2 stands in for a Qwen2.5-Instruct download here)."""
    settings = Settings()
    assert settings.llm.converted_dir is not None
    folder = model_folder(settings.llm.smollm2_gguf, settings.llm.converted_dir)
    configured = Settings(llm=settings.llm.model_copy(update={"model": folder}))
    spec = next(spec for spec in llm_specs(configured, "cpu") if spec.name == "transformers")
    assert spec.precheck() is None
    engine = spec.factory()
    assert engine.name == "transformers" and "".join(engine.stream(QUESTION, 6, Generation()))
    unset = next(spec for spec in llm_specs(Settings(), "cpu") if spec.name == "transformers")
    assert unset.precheck() == "GPU_LLM__MODEL is not set: point it at a model folder or .gguf file"


def test_the_model_waits_while_the_first_clause_is_voiced(embedded: LlamaCppEngine, tmp_path: Path) -> None:
    """The first sound comes sooner when the model does not take the cores while Kokoro voices the first clause:
    it stops at its next token once the clause is handed over, and writes on when the clause's audio exists."""
    kokoro = KokoroEngine(KokoroSettings(), tmp_path, VoiceProfileStore(tmp_path, 2))
    order = ReplyOrder(embedded, ReplyLimits(120, 0, 60), kokoro, "en", None, False)
    question = [ChatTurn(role="user", content="Tell me about the sea and the ships on it, in three sentences.")]
    speech, info = spoken_reply(order, question, time.perf_counter())
    try:
        first = next(speech)  # the first clause, voiced (Kokoro takes a good part of a second for it here)
        written = speech.tokens
        clause = len(embedded.model.tokenize(first.text.encode(), add_bos=False))
        assert first.duration_s > 0.3 and info.first_sentence_s is not None
        assert written <= clause + 3, f"the model wrote {written} tokens while a {clause}-token clause was voiced"
        rest = list(speech)  # then it writes on, and the reply goes on
        assert rest and speech.tokens > written
    finally:
        speech.close()


def reply_over_http(gpu: RunningService, body: dict[str, object]) -> tuple[SpeakResult, bytes]:
    """A /reply's record and its whole video."""
    with httpx.stream("POST", f"{gpu.url}/api/v1/reply", json=body, timeout=120) as response:
        assert response.status_code == 200, response.read()
        data = b"".join(response.iter_bytes())
    record = httpx.get(f"{gpu.url}/api/v1/speak/{response.headers['x-speak-id']}").json()
    return SpeakResult.model_validate(record), data


@pytest.mark.parametrize("language", ["zh", "es"])
def test_the_embedded_model_says_it_does_not_speak_a_language_in_that_language(
    gpu_service: RunningService, listener: Listener, language: Language
) -> None:
    body = {"text": "你好，你是谁？" if language == "zh" else "Hola, ¿quién eres?", "language": language, "size": 128}
    with httpx.stream("POST", f"{gpu_service.url}/api/v1/reply", json=body, timeout=120) as response:
        assert response.status_code == 200, response.read()
        data = b"".join(response.iter_bytes())
    result = SpeakResult.model_validate(
        httpx.get(f"{gpu_service.url}/api/v1/speak/{response.headers['x-speak-id']}").json()
    )
    assert result.reply is not None and result.reply.llm_engine == "smollm2"
    assert (result.reply.text, result.reply.finish) == (UNSPOKEN_LANGUAGE[language], "language")
    video = decode(data)
    heard = listener.hear(video.audio, video.sample_rate, language)
    assert Listener.choice_among(heard) == language, heard  # said in the language asked, not in English
    health = httpx.get(f"{gpu_service.url}/health").json()
    llms = {engine["name"]: engine["languages"] for engine in health["engines"] if engine["kind"] == "llm"}
    assert llms == {"smollm2": ["en"], "transformers": ["en", "es", "zh"], "openai": ["en", "es", "zh"]}


def test_the_embedded_model_tries_a_language_when_the_operator_says_so(tmp_path: Path) -> None:
    env = {"GPU_LLM__SAY_UNSPOKEN_LANGUAGE": "false", "GPU_OUTPUT_ROOT": str(tmp_path / "out")}
    with run_service("gpu_service.app:create_app", env, tmp_path) as gpu:
        body = {"text": "Hola, ¿quién eres?", "language": "es", "size": 128}
        with httpx.stream("POST", f"{gpu.url}/api/v1/reply", json=body, timeout=120) as response:
            assert response.status_code == 200, response.read()
            b"".join(response.iter_bytes())
        result = SpeakResult.model_validate(
            httpx.get(f"{gpu.url}/api/v1/speak/{response.headers['x-speak-id']}").json()
        )
    assert result.reply is not None and result.reply.finish != "language"
    assert result.reply.text and result.reply.text != UNSPOKEN_LANGUAGE["es"]


def test_the_embedded_model_answers_in_a_few_short_sentences() -> None:
    settings = Settings()
    embedded_limits = ReplyLimits.of(settings.llm, embedded=True)
    assert (embedded_limits.max_sentences, embedded_limits.max_tokens) == (3, 72)
    assert ReplyLimits.of(settings.llm, embedded=False).max_tokens == 160
    assert ReplyLimits.of(settings.llm, embedded=True, max_tokens=20).max_tokens == 20  # a request's own limit
    # The embedded limits tighten the general ones, never loosen them.
    tighter = settings.llm.model_copy(update={"max_tokens": 8, "max_sentences": 1})
    assert (
        ReplyLimits.of(tighter, embedded=True).max_tokens,
        ReplyLimits.of(tighter, embedded=True).max_sentences,
    ) == (8, 1)
    unlimited = settings.llm.model_copy(update={"max_sentences": 0, "embedded_max_sentences": 0})
    assert ReplyLimits.of(unlimited, embedded=True).max_sentences == 0
