from __future__ import annotations

import pytest

from gpu_service.text import split_sentences


def test_latin_sentences() -> None:
    assert split_sentences("Hello world. How are you?  Fine! Thanks") == [
        "Hello world.",
        "How are you?",
        "Fine!",
        "Thanks",
    ]


def test_spanish_inverted_marks_stay_with_their_sentence() -> None:
    assert split_sentences("¿Cómo estás? ¡Muy bien! Gracias.") == ["¿Cómo estás?", "¡Muy bien!", "Gracias."]


def test_chinese_full_width_punctuation_splits_without_spaces() -> None:
    assert split_sentences("你好，世界。今天天气很好！我们走吧") == ["你好，世界。", "今天天气很好！", "我们走吧"]


@pytest.mark.parametrize("text", ["word, " * 300, "x" * 1000, "这是一个很长的句子" * 100, "many words " * 200])
def test_long_pieces_are_bounded_and_nothing_is_lost(text: str) -> None:
    pieces = split_sentences(text, max_chars=100)
    assert all(0 < len(piece) <= 100 for piece in pieces)
    assert "".join(pieces).replace(" ", "") == text.replace(" ", "")
