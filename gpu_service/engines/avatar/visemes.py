"""IPA phonemes (as espeak-ng reports them for en, cmn and es) to mouth-shape targets.

A viseme is a target the mouth moves toward: jaw opening (0 closed .. 1 wide), lip width (-1 puckered .. 1 spread),
lip rounding (0 .. 1), and a dominance: how strongly the target resists its neighbours during coarticulation
(bilabial closures must close; a velar /k/ takes the shape of the vowels around it).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Viseme:
    open: float
    width: float
    round: float
    dominance: float

    @property
    def closes(self) -> bool:
        """The lips meet for it (/p b m/), even on a face whose photo shows its mouth open."""
        return self.open == 0.0 and self.dominance >= 3.0


PAUSE = Viseme(0.0, 0.0, 0.0, 1.0)
NEUTRAL = Viseme(0.3, 0.1, 0.0, 0.3)

_VOWELS: dict[str, Viseme] = {}
for chars, viseme in (
    ("aɑæɐäɒ", Viseme(0.90, 0.20, 0.0, 1.0)),
    ("eɛəɜɘɚɝʌɤ", Viseme(0.55, 0.35, 0.0, 1.0)),
    ("iɪɨɯ", Viseme(0.25, 0.70, 0.0, 1.0)),
    ("yʏøœ", Viseme(0.30, -0.30, 0.8, 1.0)),
    ("oɔ", Viseme(0.55, -0.40, 0.7, 1.0)),
    ("uʊɵʉ", Viseme(0.25, -0.60, 1.0, 1.0)),
):
    _VOWELS.update(dict.fromkeys(chars, viseme))

_CONSONANTS: dict[str, Viseme] = {}
for chars, viseme in (
    ("pbmɸβ", Viseme(0.00, 0.00, 0.0, 3.0)),  # lips closed: must be reached
    ("fvɱ", Viseme(0.08, 0.10, 0.0, 2.0)),  # lower lip to upper teeth
    ("wɥ", Viseme(0.15, -0.60, 0.9, 1.5)),
    ("szθð", Viseme(0.15, 0.40, 0.0, 0.8)),
    ("tdnlɾrɹɬ", Viseme(0.20, 0.20, 0.0, 0.7)),
    ("ʃʒɕʑʂʐʈɖɲjç", Viseme(0.20, 0.00, 0.4, 0.8)),
    ("kgŋxɣχhʔɡ", Viseme(0.30, 0.10, 0.0, 0.4)),  # tongue-back sounds: lips follow the context
):
    _CONSONANTS.update(dict.fromkeys(chars, viseme))

_MARKS = set("ˈˌːˑ.̩̯̃ʰʲʷ")


def visemes_for(phoneme: str) -> list[Viseme]:
    """One viseme per vowel of a diphthong (the segment is shared between them), else one."""
    if phoneme in ("", "_"):
        return [PAUSE]
    letters = [char for char in phoneme if char not in _MARKS]
    vowels = [_VOWELS[char] for char in letters if char in _VOWELS]
    if vowels:
        return vowels
    for char in letters:
        if char in _CONSONANTS:
            return [_CONSONANTS[char]]
    return [NEUTRAL]
