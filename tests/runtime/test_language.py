"""language=auto: the bundled text language ID, on sentences it used to get wrong and on unsupported ones."""

from __future__ import annotations

import pytest

from common.errors import Unprocessable
from runtime.language import detect_language


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Good morning, everyone, and welcome to the meeting.", "en"),
        ("大家早上好，欢迎参加今天的会议。", "zh"),  # the lite model alone says 'ja'
        ("我用中文再说一遍。", "zh"),
        ("大家早上好，歡迎參加今天的會議。", "zh"),  # traditional characters
        ("Buenos días a todos y bienvenidos a la reunión.", "es"),
        ("Meeting at 9: 大家好", "zh"),
    ],
)
def test_detects_supported_languages(text: str, expected: str) -> None:
    assert detect_language(text) == expected


@pytest.mark.parametrize(
    "text", ["皆さん、おはようございます。会議へようこそ。", "Guten Morgen zusammen, willkommen zur Besprechung."]
)
def test_unsupported_language_is_refused_with_the_supported_list(text: str) -> None:
    with pytest.raises(Unprocessable, match="supported languages are en, zh and es"):
        detect_language(text)
