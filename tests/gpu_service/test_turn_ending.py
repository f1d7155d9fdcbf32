"""When a spoken turn ends: a live session's listener on a microphone track, with Silero VAD and Whisper base.

The user is Kokoro's voice (no licence-clean recording says these sentences); the listener is the session's own.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import numpy as np
import pytest

from evaluator.metrics.intelligibility import normalize_text
from gpu_service.config import AsrSettings, Settings
from gpu_service.engines.asr.transcriber import Transcriber, Transcript
from gpu_service.engines.base import synthesize
from gpu_service.engines.tts.kokoro import KokoroEngine
from gpu_service.engines.tts.kokoro_settings import KokoroSettings
from gpu_service.engines.tts.voice_profiles import VoiceProfileStore
from gpu_service.sessions.listening import listen
from gpu_service.sessions.turn_clock import TurnClock
from tests.live_client import Microphone, run_session

RATE = 24_000


@dataclass(frozen=True)
class HeardTurn:
    text: str
    turn_end_s: float  # from the end of the user's speech, on the turn's clock


@pytest.fixture(scope="module")
def kokoro(tmp_path_factory: pytest.TempPathFactory) -> KokoroEngine:
    cache = tmp_path_factory.mktemp("kokoro")
    return KokoroEngine(KokoroSettings(), cache, VoiceProfileStore(cache, 2))


@pytest.fixture(scope="module")
def whisper() -> Transcriber:
    return Transcriber(Settings().asr.model_dir, "cpu", 1)


def spoken(kokoro: KokoroEngine, *parts: str | float) -> np.ndarray:
    """The texts said one after the other; a number is that many seconds of silence between them."""
    pieces = [
        np.zeros(round(part * RATE), np.float32)
        if isinstance(part, float)
        else synthesize(kokoro, part, "en", None, match_voice=False).samples
        for part in parts
    ]
    return np.concatenate([*pieces, np.zeros(RATE // 2, np.float32)])


def turns_heard(
    whisper: Transcriber, settings: AsrSettings, audio: np.ndarray, listen_after_s: float
) -> list[HeardTurn]:
    async def run() -> list[HeardTurn]:
        microphone = Microphone()
        heard: list[HeardTurn] = []

        def on_heard(transcript: Transcript, clock: TurnClock) -> None:
            heard.append(HeardTurn(transcript.text, clock.timings().turn_end_s or 0.0))

        listener = asyncio.create_task(
            listen(microphone, lambda: whisper, "en", settings, lambda _: None, lambda: None, on_heard)
        )
        await asyncio.sleep(0.5)  # the VAD loads
        microphone.speak(audio, RATE)
        await asyncio.sleep(len(audio) / RATE + listen_after_s)
        listener.cancel()
        return heard

    return run_session(run())


def words(text: str) -> set[str]:
    return set(normalize_text(text, "en").split())


def test_a_user_who_pauses_after_and_is_not_cut_off(kokoro: KokoroEngine, whisper: Transcriber) -> None:
    """A 0.9 s pause after "and" (longer than the 0.5 s that ends an utterance) waits for the rest: one turn with
    both parts. The same pause after a finished sentence ends the turn there: two turns."""
    settings = AsrSettings()
    assert settings.end_silence_s < 0.9 < settings.continue_s
    open_pause = turns_heard(
        whisper, settings, spoken(kokoro, "I would like to visit Paris and", 0.9, "see the Eiffel Tower."), 4
    )
    assert len(open_pause) == 1, open_pause
    assert {"paris", "tower"} <= words(open_pause[0].text)
    closed_pause = turns_heard(
        whisper, settings, spoken(kokoro, "I would like to visit Paris.", 0.9, "Then I will go home."), 4
    )
    assert len(closed_pause) == 2, closed_pause
    assert "paris" in words(closed_pause[0].text) and "home" in words(closed_pause[1].text)


def test_a_finished_question_ends_the_turn_before_the_silence_does(kokoro: KokoroEngine, whisper: Transcriber) -> None:
    """With 4 s of silence needed to end an utterance, a finished question ends once Whisper has it (at the first
    pause); words that leave the sentence open wait for the silence."""
    settings = AsrSettings(end_silence_s=4.0)
    question = turns_heard(whisper, settings, spoken(kokoro, "What should I see first in Paris?"), 5)
    assert len(question) == 1 and "paris" in words(question[0].text), question
    assert question[0].turn_end_s < 3.5, question
    unfinished = turns_heard(whisper, settings, spoken(kokoro, "What should I see first in Paris and"), 6)
    assert len(unfinished) == 1 and unfinished[0].turn_end_s >= 3.9, unfinished
    print(
        f"turn ended after {question[0].turn_end_s:.2f} s (finished question), {unfinished[0].turn_end_s:.2f} s (open)"
    )
