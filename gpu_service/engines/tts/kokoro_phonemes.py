"""Text to phonemes in the alphabet Kokoro-82M was trained on: espeak-ng's IPA for English and Spanish, rewritten
where Kokoro spells a sound with one symbol (diphthongs, affricates); misaki for Mandarin, whose tone arrows espeak's
`cmn` lacks. Back to IPA for the mouth: `ipa_for`."""

from __future__ import annotations

import re
import warnings
from functools import lru_cache
from typing import Any

from gpu_service.engines.tts.espeak_lib import TIE, EspeakLibrary
from gpu_service.engines.tts.language_runs import Run
from gpu_service.engines.tts.languages import ESPEAK_VOICES

# espeak writes a diphthong or an affricate as two letters with a tie; Kokoro has one symbol for each.
_TIED = {
    f"a{TIE}ɪ": "I",
    f"a{TIE}ʊ": "W",
    f"e{TIE}ɪ": "A",
    f"o{TIE}ʊ": "O",
    f"ɔ{TIE}ɪ": "Y",
    f"ə{TIE}ʊ": "Q",
    f"d{TIE}ʒ": "ʤ",
    f"t{TIE}ʃ": "ʧ",
    f"t{TIE}s": "ʦ",
    f"d{TIE}z": "ʣ",
}
# American English as Kokoro's English voices were taught it: r-coloured schwa spelled out, no length marks,
# a flap as T, a glottal stop as t.
_AMERICAN = {"ɚ": "əɹ", "r": "ɹ", "ɐ": "ə", "ː": "", "x": "k", "ç": "k", "ɬ": "l", "ɾ": "T", "ʔ": "t", "e": "A"}
_CLAUSE = re.compile(r"([^,.;:!?¡¿…—]*)([,.;:!?¡¿…—]*)")
_KEPT_PUNCTUATION = ",.;:!?…—"
# Kokoro's single symbols as IPA the viseme table reads; tone arrows and stress are not mouth shapes.
_TO_IPA = {
    "I": "aɪ", "W": "aʊ", "A": "eɪ", "O": "oʊ", "Y": "ɔɪ", "Q": "əʊ", "ʤ": "dʒ", "ʧ": "tʃ", "ʦ": "ts",
    "ʣ": "dz", "ʥ": "dʑ", "ʨ": "tɕ", "ᵊ": "ə", "T": "ɾ", "ꭧ": "ɻ", "ᵻ": "ɨ", "ᵝ": "β",
}  # fmt: skip
_NOT_SOUNDS = set("ˈˌːʰʲ̃↓→↗↘ ")


def phonemes_for(runs: list[Run]) -> str:
    """One phoneme string for runs of possibly different languages, spoken by one voice."""
    return " ".join(piece for piece in (_phonemes(run.text, run.language) for run in runs) if piece)


def ipa_for(symbol: str) -> str | None:
    """The IPA of one Kokoro input symbol: "_" for a pause (punctuation), None for what is not a sound."""
    if symbol in _NOT_SOUNDS:
        return None
    if symbol in _KEPT_PUNCTUATION or symbol in '"“”()':
        return "_"
    return _TO_IPA.get(symbol, symbol)


def _phonemes(text: str, language: str) -> str:
    if language == "zh":
        return str(_mandarin()(text)[0]).strip()
    out = []
    for words, marks in _CLAUSE.findall(text):
        if words.strip():
            out.append(_kokoro_spelling(EspeakLibrary.shared().phonemize(words, ESPEAK_VOICES[language]), language))
        kept = "".join(mark for mark in marks if mark in _KEPT_PUNCTUATION)
        if kept and out:
            out[-1] += kept
    return " ".join(out)


def _kokoro_spelling(ipa: str, language: str) -> str:
    for tied, symbol in _TIED.items():
        ipa = ipa.replace(tied, symbol)
    ipa = ipa.replace(TIE, "")
    if language == "en":
        ipa = ipa.replace("ɜːɹ", "ɜɹ").replace("ɜː", "ɜɹ").replace("ɪə", "iə")
        ipa = "".join(_AMERICAN.get(char, char) for char in ipa)
    return ipa


@lru_cache(maxsize=1)
def _mandarin() -> Any:
    with warnings.catch_warnings():  # jieba imports pkg_resources, deprecated
        warnings.simplefilter("ignore", UserWarning)
        from misaki.zh import ZHG2P  # type: ignore[import-untyped]

    return ZHG2P()
