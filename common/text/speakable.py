"""Written text as it is said, per language, before any TTS engine reads it.

Engines read what they are given literally: "$3.5 million" became "dollar three point five million", "12/03/2025"
"twelve slash zero three slash...", a URL was spelled letter by letter, an emoji read by its name. Numbers are
written out by num2words (English, Spanish) and cn2an (Mandarin); the rest (currency, percent, dates and times,
ordinals, abbreviations, web and mail addresses, symbols) is rewritten here, before the numbers.
"""

from __future__ import annotations

import re
import unicodedata
import warnings

import cn2an
from num2words import num2words

_WORDS = {"en": "en", "es": "es"}
_MONTHS = {
    "en": [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ],
    "es": [
        "enero",
        "febrero",
        "marzo",
        "abril",
        "mayo",
        "junio",
        "julio",
        "agosto",
        "septiembre",
        "octubre",
        "noviembre",
        "diciembre",
    ],
}
_ABBREVIATIONS = {
    "en": {
        "e.g.": "for example",
        "i.e.": "that is",
        "etc.": "et cetera",
        "vs.": "versus",
        "approx.": "approximately",
        "Mr.": "Mister",
        "Mrs.": "Missus",
        "Ms.": "Miz",
        "Dr.": "Doctor",
        "Prof.": "Professor",
        "Ave.": "Avenue",
        "St.": "Street",
        "Jr.": "Junior",
        "Sr.": "Senior",
        "No.": "number",
    },
    "es": {
        "p. ej.": "por ejemplo",
        "etc.": "etcétera",
        "Sr.": "señor",
        "Sra.": "señora",
        "Srta.": "señorita",
        "Dr.": "doctor",
        "Dra.": "doctora",
        "Ud.": "usted",
        "Uds.": "ustedes",
        "núm.": "número",
        "aprox.": "aproximadamente",
    },
}
_SYMBOLS = {
    "en": {"&": " and ", "+": " plus ", "=": " equals ", "@": " at ", "#": " number ", "°": " degrees "},
    "es": {"&": " y ", "+": " más ", "=": " igual a ", "@": " arroba ", "#": " número ", "°": " grados "},
    "zh": {"&": "和", "+": "加", "=": "等于", "@": "艾特", "#": "号", "°": "度"},
}
_CURRENCIES = {"$": "USD", "€": "EUR", "£": "GBP"}
_CURRENCY_NAMES = {
    "en": {"USD": "dollars", "EUR": "euros", "GBP": "pounds"},
    "es": {"USD": "dólares", "EUR": "euros", "GBP": "libras"},
}
_SCALE = r"(?:\s+(million|billion|trillion|thousand|millones|millón|mil millones|mil))?"
# Thousands and decimals are written "1,234.5" in English and "1.234,5" in Spanish.
_NUMBERS = {
    "en": r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?",
    "es": r"\d{1,3}(?:\.\d{3})+(?:,\d+)?|\d+(?:,\d+)?",
}


def speakable(text: str, language: str) -> str:
    """`text` (one language's, en, es or zh) as words a TTS engine reads correctly. Nothing is left to spell."""
    text = unicodedata.normalize("NFKC", text)
    text = _drop_pictographs(text)
    if language == "zh":
        return _spaces(_mandarin(text))
    text = _addresses(text, language)
    for written, said in _ABBREVIATIONS.get(language, {}).items():
        # At the end of the text its period is also the full stop.
        text = re.sub(rf"(?<![\w.]){re.escape(written)}(?=\s|[,;:])", said, text)
        text = re.sub(rf"(?<![\w.]){re.escape(written)}$", f"{said}.", text)
    for rewrite in (_currency, _percent, _dates, _times, _ordinals, _numbers):
        text = rewrite(text, language)
    return _spaces(_replace_all(text, _SYMBOLS[language]))


def _spaces(text: str) -> str:
    return re.sub(r"\s+([,.;:!?])", r"\1", re.sub(r"[ \t]+", " ", text)).strip()


def _drop_pictographs(text: str) -> str:
    """Emoji, pictographs and their joiners are not read out ("grinning face"): they are dropped."""
    kept = []
    for char in text:
        category = unicodedata.category(char)
        if category == "So" or char in "\u200d\ufe0e\ufe0f" or (category == "Sk" and ord(char) > 0x1F000):
            continue
        kept.append(char)
    return "".join(kept)


def _words(number: float | int, language: str, **how: str) -> str:
    if language == "es" and isinstance(number, float) and not how:  # 3,5: "tres coma cinco" (num2words: "punto")
        whole, _, decimals = f"{number}".partition(".")
        zeros = "cero " * (len(decimals) - len(decimals.lstrip("0")))  # 2,05: "dos coma cero cinco"
        return f"{_words(int(whole), language)} coma {zeros}{_words(int(decimals), language)}"
    try:
        return str(num2words(number, lang=_WORDS[language], **how))
    except (OverflowError, ValueError, NotImplementedError):  # beyond what it can say: digit by digit
        return " ".join(str(num2words(int(digit), lang=_WORDS[language])) for digit in str(number) if digit.isdigit())


def _value(digits: str, language: str) -> int | float:
    plain = digits.replace(",", "") if language == "en" else digits.replace(".", "").replace(",", ".")
    return float(plain) if "." in plain else int(plain)


def _addresses(text: str, language: str) -> str:
    """A web or mail address is said by its name: "example dot com", not letter by letter, nor its path."""
    dot, at = ("dot", "at") if language == "en" else ("punto", "arroba")

    def host(name: str) -> str:
        return f" {dot} ".join(part for part in name.split(".") if part)

    text = re.sub(
        r"\b([\w.+-]+)@([\w-]+(?:\.[\w-]+)+)\b",
        lambda m: f"{host(m.group(1))} {at} {host(m.group(2))}",
        text,
    )
    return re.sub(
        r"\b(?:https?://)?(?:www\.)?((?:[a-z0-9-]+\.)+(?:com|org|net|edu|gov|io|ai|dev|es|mx|ar|co|uk|de|fr|cn))"
        r"(?:/[^\s]*)?",
        lambda m: host(m.group(1).lower()),
        text,
        flags=re.IGNORECASE,
    )


def _currency(text: str, language: str) -> str:
    def said(symbol: str, digits: str, scale: str | None) -> str:
        amount, code = _value(digits, language), _CURRENCIES[symbol]
        if scale:  # "$3.5 million": three point five million dollars
            unit = _CURRENCY_NAMES[language][code]
            return f"{_words(amount, language)} {scale} {'de ' if language == 'es' else ''}{unit}"
        return _words(amount, language, to="currency", currency=code).replace(",", "")

    number = _NUMBERS[language]
    text = re.sub(rf"([$€£])\s?({number}){_SCALE}", lambda m: said(*m.groups()), text)
    return re.sub(rf"({number}){_SCALE}\s?([$€£])", lambda m: said(m.group(3), m.group(1), m.group(2)), text)


def _percent(text: str, language: str) -> str:
    word = "percent" if language == "en" else "por ciento"
    number = _NUMBERS[language]
    return re.sub(rf"({number})\s?%", lambda m: f"{_words(_value(m.group(1), language), language)} {word}", text)


_DATE_CUES = {"en": "on|by|since|until|from|before|after", "es": "el|del|hasta|desde"}


def _dates(text: str, language: str) -> str:
    def said(year: int | None, month: int, day: int) -> str | None:
        if not 1 <= month <= 12 or not 1 <= day <= 31:
            return None
        name = _MONTHS[language][month - 1]
        if language == "en":
            spoken = f"{name} {_words(day, language, to='ordinal')}"
            return spoken if year is None else f"{spoken}, {_words(year, language, to='year')}"
        spoken = f"{_words(day, language)} de {name}"
        return spoken if year is None else f"{spoken} de {_words(year, language)}"

    def slashed(first: str, second: str, year: str | None, written: str) -> str:
        full_year = None if year is None else int(year) + (2000 if len(year) == 2 else 0)
        month, day = (
            (int(first), int(second)) if language == "en" else (int(second), int(first))
        )  # 12/03: Dec 3 / 12 Mar
        return said(full_year, month, day) or written

    text = re.sub(r"\b(\d{4})-(\d{2})-(\d{2})\b", lambda m: said(*map(int, m.groups())) or m.group(0), text)
    text = re.sub(r"\b(\d{1,2})/(\d{1,2})/(\d{2}|\d{4})\b", lambda m: slashed(m[1], m[2], m[3], m[0]), text)
    # Without a year a slash is a date only after a word that asks for one ("on 4/7"); else it may be a fraction.
    cued = rf"\b((?:{_DATE_CUES[language]}) )(\d{{1,2}})/(\d{{1,2}})(?![/\d])"
    return re.sub(
        cued,
        lambda m: m[1] + slashed(m[2], m[3], None, f"{m[2]}/{m[3]}"),
        text,
        flags=re.IGNORECASE,
    )


def _times(text: str, language: str) -> str:
    def said(m: re.Match[str]) -> str:
        hour, minute, half = int(m.group(1)), int(m.group(2)), (m.group(3) or "").lower().replace(".", "")
        if hour > 23 or minute > 59:
            return m.group(0)
        stop = "." if m.group(0).endswith(".") else ""  # "7:45 p.m." ending a sentence keeps its full stop
        if language != "en":
            spanish = f"{_words(hour, language)} y {_words(minute, language)}" if minute else _words(hour, language)
            return spanish + stop
        if not half and hour > 12:  # 19:00 is said "seven p m"
            hour, half = hour - 12, "pm"
        minutes = "" if minute == 0 else (" oh " if minute < 10 else " ") + _words(minute, language)
        clock = " o'clock" if minute == 0 else ""  # "nine o'clock", but "nine thirty"
        return f"{_words(hour, language)}{minutes}" + (f" {' '.join(half)}" if half else clock) + stop

    text = re.sub(r"(?<!\d)(\d{1,2}):(\d{2})\s?([ap]\.?m\.?)?(?=\W|$)", said, text, flags=re.IGNORECASE)
    if language == "en":  # "10 am", "10am", "10 p.m.": an hour with its half of the day
        text = re.sub(
            r"(?<![\d.,])(1[0-2]|0?[1-9])\s?([ap])\.?m\.?(?=\W|$)",
            lambda m: (
                f"{_words(int(m.group(1)), language)} {m.group(2).lower()} m" + ("." if m.group(0)[-1] == "." else "")
            ),
            text,
            flags=re.IGNORECASE,
        )
    return text


def _ordinals(text: str, language: str) -> str:
    if language == "en":
        pattern = r"\b(\d+)(?:st|nd|rd|th)\b"
        return re.sub(pattern, lambda m: _words(int(m.group(1)), language, to="ordinal"), text)
    feminine = {"primero": "primera", "segundo": "segunda", "tercero": "tercera"}

    def spanish(m: re.Match[str]) -> str:
        word = _words(int(m.group(1)), language, to="ordinal")
        return feminine.get(word, word[:-1] + "a") if m.group(2) in "ªa" else word

    return re.sub(r"\b(\d+)\.?([ºª°oa])(?=\W|$)", spanish, text)


def _numbers(text: str, language: str) -> str:
    def said(m: re.Match[str]) -> str:
        sign = ("minus " if language == "en" else "menos ") if m.group(1) else ""
        value = _value(m.group(2), language)
        year_like = isinstance(value, int) and 1100 <= value <= 2099 and language == "en" and "," not in m.group(2)
        return sign + _words(value, language, **({"to": "year"} if year_like else {}))

    return re.sub(rf"(?<![\w.,])(-)?({_NUMBERS[language]})(?![\w])", said, text)


def _mandarin(text: str) -> str:
    """cn2an writes Arabic numerals in Chinese (dates, percent, decimals, counts); times and symbols here."""
    text = re.sub(
        r"(?<!\d)(\d{1,2}):(\d{2})(?!\d)",
        lambda m: f"{m.group(1)}点{m.group(2)}分" if int(m.group(2)) else f"{m.group(1)}点",
        text,
    )
    with warnings.catch_warnings():  # a number over 16 digits is left as digits (read one by one), with a warning
        warnings.simplefilter("ignore", UserWarning)
        text = re.sub(r"(?<=\d),(?=\d{3}(?!\d))", "", text)  # 2,500: cn2an reads the comma as a list's
        text = str(cn2an.transform(_replace_all(text, _SYMBOLS["zh"]), "an2cn"))
    return re.sub(r"(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])", "", text)  # spaces between characters are not read


def _replace_all(text: str, table: dict[str, str]) -> str:
    for written, said in table.items():
        text = text.replace(written, said)
    return text
