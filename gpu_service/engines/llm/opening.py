"""Whether a reply opens in English, for a model that writes English only.

Asked about a place, the embedded SmolLM2-135M often answers in the place's language, and in nonsense: "What should I
see first in Paris?" got "Souveneres aujourd'hui, Bien sûr.", Berlin got German, Madrid and Mexico City Spanish (4 of
8 such questions), which the English voice then read out. Its first words are checked before any is spoken; when they
are not English, the engine writes its reply again, starting with one of a few English words (OPENERS).
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import re

from common.text.language import language_scores

# What a written-again reply may start with: words replies often start with, one token each for most tokenizers.
# Not "A", which the model then turned into a longer word ("Avei, avec leur amour").
OPENERS = (
    "I",
    "The",
    "Sure",
    "Yes",
    "Oh",
    "Well",
    "That",
    "It",
    "You",
    "In",
    "Great",
    "Good",
    "Hello",
    "Hi",
    "What",
    "There",
    "This",
    "My",
    "If",
    "When",
    "Let",
)
# Not English: fastText hears almost no English in it, and fewer than three in four of its words are English words.
# fastText alone misjudged short English ("1. A:" 0.00 English, "Ah," 0.02, "A good book to read" 0.12); the words
# alone, a place's name ("Lyon, France.": half are English words). The 15 non-English openings seen had at most 0.06
# English and at most 60 % English words (some Spanish ones are English too: "El gran cenario de la"); the English
# openings fastText put under 0.1 had every word English.
MOST_ENGLISH_SCORE = 0.1
LEAST_ENGLISH_WORDS = 0.75
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


def prepare() -> None:
    """Loads what the check reads (~0.2 s), so the first reply does not wait for it."""
    english_lexicon()
    language_scores("Hello there.")


def clearly_not_english(text: str) -> bool:
    words = _WORD.findall(text)
    if not words:
        return False
    if language_scores(text).get("en", 0.0) >= MOST_ENGLISH_SCORE:
        return False
    lexicon = english_lexicon()
    known = sum(word in lexicon or word.lower() in lexicon for word in words)
    return known < LEAST_ENGLISH_WORDS * len(words)


@functools.cache
def english_lexicon() -> frozenset[str]:
    """American English words: the gold lexicon of misaki (Kokoro's phonemizer, installed for Mandarin), 90k words
    with their usual capitals ("Paris", "a"). Loaded once, ~0.1 s."""
    source = importlib.resources.files("misaki") / "data" / "us_gold.json"
    return frozenset(json.loads(source.read_text(encoding="utf-8")))
