"""The model manager: an engine unused for its idle time is unloaded (the memory figure drops), loads again on the
next request, and is never unloaded while a stream holds it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from common.process.launch import RunningService, run_service
from contracts.gpu_service import EngineStatus, HealthResponse
from gpu_service.engines.registry import EngineSlot, EngineSpec

IDLE_S = 3.0
LONG_TEXT = " ".join(["The quick brown fox jumps over the lazy dog near the quiet river bank."] * 6)


@pytest.fixture(scope="module")
def unloading_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    """Kokoro as the default voice, unloaded after IDLE_S unused (the embedded engines only unload when asked)."""
    env = {
        "GPU_OUTPUT_ROOT": str(tmp_path_factory.mktemp("unloading-output")),
        "GPU_TTS_ENGINE": "kokoro",
        "GPU_IDLE_UNLOAD_S": f'{{"kokoro": {IDLE_S}}}',
        "GPU_WARM_VOICES": "false",
    }
    with run_service("gpu_service.app:create_app", env, tmp_path_factory.mktemp("logs")) as service:
        yield service


def health(service: RunningService) -> HealthResponse:
    return HealthResponse.model_validate(httpx.get(f"{service.url}/health", timeout=30).json())


def kokoro(report: HealthResponse) -> EngineStatus:
    return next(engine for engine in report.engines if engine.name == "kokoro")


def resident_mb(report: HealthResponse) -> float:
    assert report.memory is not None
    return report.memory.resident_bytes / 1e6


def wait_for_state(service: RunningService, state: str, within_s: float) -> HealthResponse:
    deadline = time.monotonic() + within_s
    while True:
        report = health(service)
        if kokoro(report).state == state or time.monotonic() > deadline:
            return report
        time.sleep(0.25)


def speak(service: RunningService, text: str) -> None:
    answer = httpx.post(f"{service.url}/api/v1/tts", json={"text": text, "language": "en"}, timeout=120)
    assert answer.status_code == 200, answer.text


def test_an_idle_engine_is_unloaded_and_loads_again_on_the_next_request(unloading_service: RunningService) -> None:
    speak(unloading_service, "Hello there, this is the first sentence.")
    loaded = health(unloading_service)
    assert kokoro(loaded).state == "ready" and kokoro(loaded).idle_unload_s == IDLE_S
    espeak = next(engine for engine in loaded.engines if engine.name == "espeak")
    assert espeak.idle_unload_s is None  # not named: kept loaded

    unloaded = wait_for_state(unloading_service, "not_loaded", IDLE_S + 10)
    assert kokoro(unloaded).state == "not_loaded", "kokoro was still loaded well after its idle time"
    dropped_mb = resident_mb(loaded) - resident_mb(unloaded)
    assert dropped_mb > 60, f"resident memory fell only {dropped_mb:.0f} MB when Kokoro was unloaded"

    speak(unloading_service, "And here it speaks again.")
    again = health(unloading_service)
    assert kokoro(again).state == "ready"
    assert resident_mb(again) - resident_mb(unloaded) > 60


def test_an_engine_held_by_a_stream_is_not_unloaded(unloading_service: RunningService, tmp_path: Path) -> None:
    seen: list[EngineStatus] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            seen.append(kokoro(health(unloading_service)))
            time.sleep(0.2)

    watcher = threading.Thread(target=watch)
    with httpx.stream(
        "POST", f"{unloading_service.url}/api/v1/tts/stream", json={"text": LONG_TEXT, "language": "en"}, timeout=120
    ) as answer:
        assert answer.status_code == 200
        watcher.start()
        chunks = answer.iter_bytes()
        next(chunks)
        time.sleep(IDLE_S + 2)  # a slow reader: longer than the idle time, while the stream holds the engine
        received = sum(len(chunk) for chunk in chunks)
    done.set()
    watcher.join()
    assert received > 0
    assert seen and all(status.state == "ready" for status in seen), "kokoro was unloaded while a stream used it"
    assert any(status.in_use >= 1 for status in seen)
    released = wait_for_state(unloading_service, "not_loaded", IDLE_S + 10)
    assert kokoro(released).in_use == 0 and kokoro(released).state == "not_loaded"


def test_health_does_not_wait_for_an_engine_being_loaded() -> None:
    """An engine's status while it loads (the lock is held through a load: a GGUF converted on a first start took
    ~30 s, and /health waited all that time): answered at once, as `loading`."""
    release = threading.Event()

    def slow_load() -> str:
        release.wait(30)
        return "engine"

    slot = EngineSlot(EngineSpec(name="slow", factory=slow_load), "llm", on_loaded=None)
    loader = threading.Thread(target=slot.get)
    loader.start()
    try:
        time.sleep(0.2)  # the load has begun
        started = time.monotonic()
        status = slot.status(default=True)
        assert time.monotonic() - started < 0.5 and status.state == "loading" and status.reason is None
    finally:
        release.set()
        loader.join()
    assert slot.status(default=True).state == "ready"
