"""The check that a reply opens in English (gpu_service.engines.llm.opening), on openings the embedded model wrote:
asked about places, it opened in French, Spanish or German; the English ones include those fastText alone calls
something else."""

from __future__ import annotations

import pytest

from gpu_service.engines.llm.opening import clearly_not_english

NOT_ENGLISH = [
    "Souveneres aujourd'hui,",
    "Bien sûr,",
    "L'avenir de Paris est",
    "Alcantara, a la ciela",
    "Escuela de la comunidad:",
    "El cielo de la",
    "Bienvenue, ein neue Köfte.",
    "Zwiebark, Berlin.",
    "Ein Berlin ist eine",
    "El gran cenario de la ",
    "Bordeaux, la légère!",
]
ENGLISH = [
    "1. A:",  # fastText: no English
    "Ah, the Eiffel Tower!",
    "A good book to read",
    "Sure,",
    "Lyon, France.",  # half its words are names
    "In Mexico City,",
    "When you're in Paris,",
    "The moon is approximately 140,765.82",
    "Rome is famous for its architecture,",
    "",
]


@pytest.mark.parametrize("opening", NOT_ENGLISH)
def test_an_opening_in_another_language_is_caught(opening: str) -> None:
    assert clearly_not_english(opening)


@pytest.mark.parametrize("opening", ENGLISH)
def test_an_english_opening_passes(opening: str) -> None:
    assert not clearly_not_english(opening)
