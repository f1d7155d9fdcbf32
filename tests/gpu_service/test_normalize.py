"""What a TTS engine is given to say: written text in words, per language (a table of what people write), and the
embedded engine's speech of such text as Whisper hears it."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from common.media.audio import load_audio
from common.process.launch import RunningService
from common.text.speakable import speakable
from contracts.gpu_service import TTSResponse
from evaluator.metrics.intelligibility import Listener, normalize_text
from gpu_service.engines.tts.language_runs import spoken_runs

TABLE = [
    (
        "en",
        "It cost $3.5 million on 12/03/2025 at 7:45pm.",
        "It cost three point five million dollars on December third, twenty twenty-five at seven forty-five p m.",
    ),
    (
        "en",
        "Visit https://www.example.com/path?x=1 or write to jane.doe@example.org.",
        "Visit example dot com or write to jane dot doe at example dot org.",
    ),
    ("en", "Great job 😀! e.g. apples vs. oranges, etc.", "Great job! for example apples versus oranges, et cetera."),
    ("en", "Doors open at 10am and close at 7 p.m.", "Doors open at ten a m and close at seven p m."),
    ("en", "On 4/7 we met; 1/2 of them came.", "On April seventh we met; one/two of them came."),
    ("es", "Llega el 3/5 y se va el 10/5.", "Llega el tres de mayo y se va el diez de mayo."),
    ("zh", "预算是2,500元。", "预算是二千五百元。"),
    ("en", "It starts at 9:30 and ends at 11:00.", "It starts at nine thirty and ends at eleven o'clock."),
    (
        "en",
        "Dr. Smith moved here in 1999; it grew 12% to 1,234,567 people.",
        "Doctor Smith moved here in nineteen ninety-nine; it grew twelve percent to one million, two hundred and "
        "thirty-four thousand, five hundred and sixty-seven people.",
    ),
    (
        "en",
        "The 1st, 2nd and 23rd runners; pi is 3.14 and it was -5 outside.",
        "The first, second and twenty-third runners; pi is three point one four and it was minus five outside.",
    ),
    (
        "en",
        "Meet on 2025-03-12 at 19:00. Tom & Jerry paid $12.50 at 9:05 a.m.",
        "Meet on March twelfth, twenty twenty-five at seven p m. Tom and Jerry paid twelve dollars fifty cents at nine "
        "oh five a m.",
    ),
    (
        "es",
        "Cuesta 12,50 € y subió un 12% el 12/03/2025 a las 7:45.",
        "Cuesta doce euros con cincuenta céntimos y subió un doce por ciento el doce de marzo de dos mil veinticinco a "
        "las siete y cuarenta y cinco.",
    ),
    (
        "es",
        "El Sr. García llegó 1º y la Sra. López 2ª, p. ej. en 1999.",
        "El señor García llegó primero y la señora López segunda, por ejemplo en mil novecientos noventa y nueve.",
    ),
    (
        "es",
        "Escríbeme a ana@example.es o visita www.ejemplo.com 👍",
        "Escríbeme a ana arroba example punto es o visita ejemplo punto com",
    ),
    (
        "es",
        "Son 1.234 personas, 3,5 millones de euros y 2,05 kilos.",
        "Son mil doscientos treinta y cuatro personas, tres coma cinco millones de euros y dos coma cero cinco kilos.",
    ),
    (
        "zh",
        "2025年3月12日增长了12%，会议7:45开始，价格3.5元😀",
        "二零二五年三月十二日增长了百分之十二,会议七点四十五分开始,价格三点五元",
    ),
    ("zh", "我们有1234人 & 3个房间", "我们有一千二百三十四人和三个房间"),
]


@pytest.mark.parametrize("language", ["en", "es", "zh"])
def test_numbers_too_long_to_say_are_read_digit_by_digit_not_refused(language: str) -> None:
    said = speakable("Code 1234567890123456789012345678901234567 and $99999999999999999999999999999999999.", language)
    assert said and "Code" in said, said
    if language == "es":
        assert said.startswith("Code uno dos tres cuatro"), said


@pytest.mark.parametrize(("language", "written", "said"), TABLE)
def test_written_text_is_said_in_words(language: str, written: str, said: str) -> None:
    assert speakable(written, language) == said


@pytest.mark.parametrize("language", ["en", "es", "zh"])
def test_text_without_anything_to_rewrite_is_left_as_it_is(language: str) -> None:
    plain = {"en": "Hello there, how are you?", "es": "Hola, ¿cómo estás?", "zh": "你好，今天天气很好。"}[language]
    assert speakable(plain, language) == plain.replace("，", ",")  # NFKC: full-width punctuation as ASCII


def test_the_embedded_engine_says_a_price_a_date_and_an_address_as_words(
    gpu_service: RunningService, listener: Listener
) -> None:
    text = "It cost $3.5 million on 12/03/2025. Visit https://www.example.com/shop/items?id=42 today."
    response = httpx.post(f"{gpu_service.url}/api/v1/tts", json={"text": text, "language": "en"}, timeout=120)
    assert response.status_code == 200, response.text
    answer = TTSResponse.model_validate(response.json())
    assert answer.spoken_text == speakable(text[: text.index(" Visit")], "en") + " Visit example dot com today."
    samples, rate = load_audio(Path(answer.audio_path))
    # Whisper writes what it hears as text again ("$3.5 million"): put that in words the way the comparison of
    # texts does, so the check is on the speech, not on Whisper's typography.
    heard = normalize_text(speakable(listener.hear(samples, rate, "en").transcript, "en"), "en")
    assert "million dollars" in heard and "december" in heard and "com" in heard.split(), heard
    assert not {"slash", "http", "https", "www", "id", "shop"} & set(heard.split()), heard
    assert "dollar three" not in heard, heard
    assert len(samples) / rate < 9.0, "the address is said by its name, not spelled (it once took 11.8 s alone)"


@pytest.mark.parametrize(
    ("language", "written", "runs"),
    [
        (
            "en",
            "He said 你好 to me in 2025.",
            [("en", "He said"), ("zh", "你好"), ("en", "to me in twenty twenty-five.")],
        ),
        ("en", "Meet 2025年3月12日 then.", [("en", "Meet"), ("zh", "二零二五年三月十二日"), ("en", "then.")]),
        (
            "zh",
            "我昨天买了iPhone 15 Pro，很好用。",
            [("zh", "我昨天买了"), ("en", "iPhone fifteen Pro"), ("zh", ",很好用。")],
        ),
        ("es", "El té 中国茶 es bueno.", [("es", "El té"), ("zh", "中国茶"), ("es", "es bueno.")]),
        ("zh", "我最喜欢的城市是London。", [("zh", "我最喜欢的城市是"), ("en", "London。")]),
        ("en", "Plain English, 12 words.", [("en", "Plain English, twelve words.")]),
    ],
)
def test_a_run_in_the_other_script_is_said_in_its_own_language(
    language: str, written: str, runs: list[tuple[str, str]]
) -> None:
    assert [(run.language, run.text) for run in spoken_runs(written, language)] == runs
