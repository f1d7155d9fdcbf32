"""Mixed-script text cut into runs spoken in their own language: a Han run inside an English or Spanish request is
Mandarin, a Latin-letter run inside a Mandarin request is English (a name, a product, a quoted phrase).

Digits and punctuation written against Han characters belong to the Mandarin run ("2025年3月"); elsewhere they
stay with the run they are in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from common.text.speakable import speakable

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_MARKS = "，。！？、；：“”‘’（）《》「」【】…—"
_HAN_RUN = re.compile(rf"[0-9.,:%]*[{_HAN}](?:[{_HAN}{_CJK_MARKS}0-9.,:%])*")
_LATIN = r"A-Za-zÀ-ÖØ-öø-ÿ"
_LATIN_RUN = re.compile(rf"[{_LATIN}](?:[{_LATIN}0-9'’\-. ]*[{_LATIN}0-9])?")
OTHER_LANGUAGE = {"en": "zh", "es": "zh", "zh": "en"}  # what the other script is read as, per request language


@dataclass(frozen=True)
class Run:
    text: str
    language: str


def language_runs(text: str, language: str) -> list[Run]:
    """`text` in order as runs of one language each (their texts joined give `text` back)."""
    other = OTHER_LANGUAGE.get(language)
    if other is None:
        return [Run(text, language)]
    pattern = _HAN_RUN if other == "zh" else _LATIN_RUN
    runs: list[Run] = []
    cursor = 0
    for match in pattern.finditer(text):
        if match.start() > cursor:
            runs.append(Run(text[cursor : match.start()], language))
        runs.append(Run(match.group(), other))
        cursor = match.end()
    if cursor < len(text):
        runs.append(Run(text[cursor:], language))
    return runs


def spoken_runs(text: str, language: str) -> list[Run]:
    """The runs as they are said (numbers, dates, addresses in words, in each run's language); a run with no word
    (a full stop after a Latin name) joins the run before it."""
    said: list[Run] = []
    for run in language_runs(text, language):
        words = speakable(run.text, run.language)
        if re.search(r"\w", words):
            said.append(Run(words, run.language))
        elif said and words:
            said[-1] = Run(said[-1].text + words, said[-1].language)
    return said


def joined(runs: list[Run]) -> str:
    """The runs as one text, a space between runs (as Chinese text sets a Latin word apart)."""
    return re.sub(r"\s+(?=[,.;:!?，。！？、；：])", "", " ".join(run.text for run in runs))
