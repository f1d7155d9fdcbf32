"""Split long text into sentences (and over-long sentences into clauses) so synthesis works in bounded pieces."""

from __future__ import annotations

import contextlib
import itertools
import logging
import re
import threading
import warnings
from collections.abc import Generator, Iterable
from pathlib import Path
from typing import Any

# A Latin sentence end: . ! ? or … (closing quotes and brackets may follow), confirmed by the whitespace after it.
_LATIN_END = re.compile(r"[.!?…]+[\"')\]”’»]*(?=\s)")
# A CJK sentence end needs no space after it.
_CJK_END = re.compile(r"[。！？；]+[”’」』）]*")
# Where a long first sentence may be cut early, so speech starts sooner (clause punctuation).
_CLAUSE = re.compile(r"[,;:]+(?=\s)|[，、；：]")
# Where a phrase starts inside a first sentence without punctuation (en, es): before a conjunction, a relative word or
# a preposition that opens a phrase of its own, so the first piece ends where a speaker could pause.
_PHRASE_START = re.compile(
    r"\s(?=(?:and|but|or|so|because|which|who|where|when|while|with|for|in|on|at|from"
    r"|y|pero|porque|donde|cuando|mientras|con|para|en)\s)",
    re.IGNORECASE,
)
_CLAUSE_END = re.compile(r"(?<=[,;:，、；：])\s*")
_SPACE = re.compile(r"\s+")
# Words whose "." ends an abbreviation, not a sentence (en, es); compared in lower case.
ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "sr",
        "jr",
        "st",
        "vs",
        "etc",
        "e.g",
        "i.e",
        "approx",
        "fig",
        "p.m",
        "a.m",
        "sra",
        "srta",
        "dra",
        "ud",
        "uds",
        "pág",
        "núm",
        "av",
        "avda",
        "ee.uu",
    ]
)
FIRST_CLAUSE_MIN_WORDS = 2  # an early cut of the first sentence at a comma needs at least this many words
FIRST_CLAUSE_MIN_CJK = 4  # or this many Chinese characters
FIRST_PHRASE_MIN_WORDS = 4  # a first piece cut where a phrase starts has at least this many words
FIRST_CHUNK_MAX_WORDS = 5  # without any punctuation by then, the first chunk ends at a word boundary
# Or within this many Chinese characters, where a word ends (jieba): cut at the eighth character whatever it was, the
# first piece split words in two ("其|实", "开|心"), and Whisper misheard 18 % of the characters of 20 such replies
# against 12 % voiced whole; at a word end within ten, 14 %.
FIRST_CHUNK_MAX_CJK = 10
CJK_LOOKAHEAD = 2  # characters past the limit that show where the word at the limit ends (a stream may extend it)
# Chinese words after which a first piece would leave its phrase open ("请你把" / "窗户关上"), besides those that
# leave a speaker's sentence open (sounds_unfinished); and particles, which belong to the word before them.
_ZH_OPENS_PHRASE = frozenset(
    [
        "在",
        "把",
        "跟",
        "对",
        "从",
        "给",
        "被",
        "比",
        "向",
        "往",
        "让",
        "如果",
        "而且",
        "一个",
        "这个",
        "那个",
        "去",
        "到",
        "的",
    ]
)
_ZH_PARTICLES = frozenset("的了着过地得们吗呢吧啊")


class SentenceChunker:
    """Cuts a stream of text pieces (an LLM's tokens) into sentences as soon as each is complete.

    A "." after a number ("3.5"), an abbreviation ("e.g.", "Dr.") or an initial ("J.") does not end a sentence;
    Chinese punctuation ends one without a following space; text without punctuation is cut at `max_chars` on a
    word boundary. With `first_clause`, the first sentence may end at a comma once it has a few words, or where a
    phrase starts, so the first speech starts sooner; with `word_limit` too after FIRST_CHUNK_MAX_WORDS words (live
    speech: sooner still, at a cost in phrasing a stored clip does not pay).
    """

    def __init__(self, max_chars: int = 300, *, first_clause: bool = False, word_limit: bool = True) -> None:
        self.max_chars = max_chars
        self.first_clause = first_clause
        self.word_limit = word_limit
        self.buffer = ""
        self.emitted = 0

    def feed(self, piece: str) -> list[str]:
        self.buffer += piece
        sentences: list[str] = []
        while (cut := self._next_cut()) is not None:
            sentence = _SPACE.sub(" ", self.buffer[:cut]).strip()
            self.buffer = self.buffer[cut:]
            if sentence:
                sentences.append(sentence)
                self.emitted += 1
        return sentences

    def flush(self) -> list[str]:
        """What is left once the stream has ended, as sentences of at most `max_chars`."""
        rest, self.buffer = _SPACE.sub(" ", self.buffer).strip(), ""
        pieces = [piece for piece in _bounded(rest, self.max_chars) if piece] if rest else []
        self.emitted += len(pieces)
        return pieces

    def _next_cut(self) -> int | None:
        text = self.buffer
        ends = [m.end() for m in _LATIN_END.finditer(text) if self._ends_sentence(text, m.start(), m.end())]
        ends += [m.end() for m in _CJK_END.finditer(text)]
        if self.first_clause and not self.emitted:
            ends += [m.end() for m in _CLAUSE.finditer(text) if _long_enough(text[: m.start()])]
            ends += [
                m.start()
                for m in _PHRASE_START.finditer(text)
                if len(text[: m.start()].split()) >= FIRST_PHRASE_MIN_WORDS
            ]
            if self.word_limit and (cut := _first_chunk_limit(text)) is not None:  # a whole text as its stream
                ends.append(cut)
        if ends:
            return min(ends)
        if len(text) > self.max_chars:
            space = text.rfind(" ", 0, self.max_chars)
            return space if space > 0 else self.max_chars
        return None

    @staticmethod
    def _ends_sentence(text: str, start: int, end: int) -> bool:
        if text[start:end].rstrip("\"')]”’»") != ".":
            return True  # ! ? … and ellipses always end
        words = text[:start].split()
        if not words:
            return False
        word = words[-1].lstrip("(\"'“‘¿¡«").lower()
        if word in ABBREVIATIONS or (len(word) == 1 and word.isalpha()):
            return False  # "Dr.", "e.g.", "J."
        # "1." numbering a list: on its own, or after the colon that opens the list ("... can help: 1. Start")
        return not (word.isdigit() and (len(words) == 1 or words[-2].endswith(":")))


def _first_chunk_limit(text: str) -> int | None:
    """Where a first chunk without punctuation ends: after FIRST_CHUNK_MAX_WORDS confirmed words (or CJK characters),
    or one word sooner when the last would leave its phrase open ("to see the" / "main sights")."""
    words = list(re.finditer(r"\S+(?=\s)", text))
    if len(words) >= FIRST_CHUNK_MAX_WORDS:
        last = words[FIRST_CHUNK_MAX_WORDS - 1]
        return words[FIRST_CHUNK_MAX_WORDS - 2].end() if sounds_unfinished(last.group()) else last.end()
    cjk = [index for index, char in enumerate(text) if is_cjk(char)]
    if len(cjk) < FIRST_CHUNK_MAX_CJK + CJK_LOOKAHEAD:
        return None
    return _chinese_first_cut(text[: cjk[FIRST_CHUNK_MAX_CJK + CJK_LOOKAHEAD - 1] + 1])


def _chinese_first_cut(text: str) -> int:
    """The last word end within FIRST_CHUNK_MAX_CJK Chinese characters (at least FIRST_CLAUSE_MIN_CJK) that leaves
    no phrase open; the last word end within them if every one would; the limit itself inside one long word."""
    words = chinese_words(text)
    ends: list[tuple[int, bool]] = []  # (where a word ends, whether a piece may end there)
    at = 0
    for word, following in itertools.pairwise(words):
        at += len(word)
        count = sum(is_cjk(char) for char in text[:at])
        if count > FIRST_CHUNK_MAX_CJK:
            break
        closed = word not in _ZH_OPENS_PHRASE and following not in _ZH_PARTICLES and not sounds_unfinished(text[:at])
        ends.append((at, count >= FIRST_CLAUSE_MIN_CJK and closed))
    closing = [end for end, closed in ends if closed]
    if closing or ends:
        return closing[-1] if closing else ends[-1][0]
    return [index for index, char in enumerate(text) if is_cjk(char)][FIRST_CHUNK_MAX_CJK - 1] + 1


_jieba_lock = threading.Lock()


def use_word_list_cache(folder: Path) -> None:
    """Where jieba keeps its word list's cache (else it writes one into the system's temporary folder): the service
    sets it at start, Kokoro when it loads."""
    jieba = _jieba()
    with contextlib.suppress(OSError):  # an output root not writable yet: the service starts degraded and says so
        folder.mkdir(parents=True, exist_ok=True)
    jieba.dt.tmp_dir = str(folder)


def chinese_words(text: str) -> list[str]:
    """Chinese text cut into words by jieba (its word list loads on first use, ~1 s)."""
    jieba = _jieba()
    with _jieba_lock:  # its first use builds the word list: once, not once per thread
        jieba.dt.check_initialized()
    return list(jieba.cut(text))


def _jieba() -> Any:
    with warnings.catch_warnings():  # jieba imports pkg_resources, deprecated
        warnings.simplefilter("ignore", UserWarning)
        import jieba  # type: ignore[import-untyped]
    jieba.setLogLevel(logging.WARNING)
    return jieba


def _long_enough(text: str) -> bool:
    words = text.split()
    if len(words) >= FIRST_CLAUSE_MIN_WORDS:
        return True
    return sum(is_cjk(char) for char in text) >= FIRST_CLAUSE_MIN_CJK


def split_sentences(text: str, max_chars: int = 300) -> list[str]:
    """Sentences of at most `max_chars` characters, in order, none empty; their concatenation keeps every word."""
    chunker = SentenceChunker(max_chars)
    sentences = [*chunker.feed(text), *chunker.flush()]
    return [piece for sentence in sentences for piece in _bounded(sentence, max_chars) if piece]


def _bounded(sentence: str, max_chars: int) -> list[str]:
    if len(sentence) <= max_chars:
        return [sentence]
    out: list[str] = []
    current = ""
    for clause in _CLAUSE_END.split(sentence):
        for part in _hard_split(clause, max_chars):
            if current and len(current) + len(part) + 1 > max_chars:
                out.append(current.strip())
                current = ""
            current = f"{current} {part}" if current and not is_cjk(part[:1]) else current + part
    if current.strip():
        out.append(current.strip())
    return out


def _hard_split(clause: str, max_chars: int) -> list[str]:
    """A clause with no punctuation: cut at spaces, or anywhere for scripts without spaces."""
    if len(clause) <= max_chars:
        return [clause]
    words = clause.split(" ")
    if len(words) == 1:
        return [clause[i : i + max_chars] for i in range(0, len(clause), max_chars)]
    parts: list[str] = []
    current = ""
    for word in words:
        for chunk in _hard_split(word, max_chars) if len(word) > max_chars else [word]:
            if current and len(current) + len(chunk) + 1 > max_chars:
                parts.append(current)
                current = chunk
            else:
                current = f"{current} {chunk}" if current else chunk
    if current:
        parts.append(current)
    return parts


def is_cjk(char: str) -> bool:
    return bool(char) and ("\u3000" <= char <= "\u9fff" or "\uff00" <= char <= "\uffef")


def join_sentences(sentences: list[str]) -> str:
    """Sentences back into one text: a space between them, none between Chinese ones."""
    text = ""
    for sentence in sentences:
        glued = not text or (is_cjk(text[-1]) and is_cjk(sentence[:1]))
        text += sentence if glued else f" {sentence}"
    return text


def until_marker(pieces: Iterable[str], *markers: str) -> Generator[str, None, None]:
    """A stream of text up to where one of `markers` starts in it, even when the marker comes split across pieces:
    text that may be a marker's beginning is held back until the next piece shows whether it is. Ends at the marker;
    what the source would write after it is never read."""
    held = ""
    for piece in pieces:
        held += piece
        if found := [at for marker in markers if (at := held.find(marker)) >= 0]:
            if min(found):
                yield held[: min(found)]
            return
        keep = max((_prefix_at_end(held, marker) for marker in markers), default=0)
        if len(held) > keep:
            yield held[: len(held) - keep]
            held = held[len(held) - keep :]
    if held:
        yield held


def _prefix_at_end(text: str, marker: str) -> int:
    """How many of the text's last characters are the marker's beginning (the longest such ending)."""
    return next((size for size in range(min(len(marker) - 1, len(text)), 0, -1) if marker.startswith(text[-size:])), 0)


def split_first_clause(text: str, word_limit: bool = True) -> tuple[str, str]:
    """The text's first clause (see SentenceChunker: its first sentence if nothing cuts it sooner), and the rest."""
    chunker = SentenceChunker(first_clause=True, word_limit=word_limit)
    pieces = chunker.feed(text) + chunker.flush()
    return (pieces[0], join_sentences(pieces[1:])) if pieces else ("", "")


# Where a speaker who stops is not done (en, es, zh): after these the live turn waits longer for the rest. Whisper
# often puts a full stop after a trailing "and", so these count whatever follows them...
_ALWAYS_OPEN = frozenset(
    [
        "and",
        "but",
        "or",
        "because",
        "the",
        "an",
        "um",
        "uh",
        "er",
        "y",
        "pero",
        "o",
        "porque",
        "el",
        "la",
        "los",
        "las",
        "un",
        "una",
        "和",
        "但是",
        "因为",
        "所以",
        "还有",
        "然后",
        "或者",
    ]
)
# ... and these only without a full stop after them ("I think so." is finished).
_OPEN_UNLESS_ENDED = frozenset(
    [
        "so",
        "that",
        "which",
        "who",
        "when",
        "while",
        "with",
        "to",
        "of",
        "for",
        "if",
        "my",
        "your",
        "like",
        "a",
        "que",
        "si",
        "cuando",
        "con",
        "de",
        "del",
        "para",
        "mi",
        "tu",
    ]
)
_OPEN_PUNCTUATION = ("-", "—", ",", "，", "、", "...", "…")
_FINAL_PUNCTUATION = (".", "?", "!", "。", "？", "！")
_LAST_WORD = re.compile(r"(\w+)\W*$")


def sounds_unfinished(text: str) -> bool:
    """What was heard stops on an open word ("and", "because", "the"), a comma or a cut-off word ("to-")."""
    said = text.strip()
    if not said:
        return False
    if said.endswith(_OPEN_PUNCTUATION):
        return True
    last = _LAST_WORD.search(said)
    if last is None:
        return False
    word = last.group(1).lower()
    if is_cjk(word[-1]):
        return any(word.endswith(open_word) for open_word in _ALWAYS_OPEN if is_cjk(open_word[0]))
    return word in _ALWAYS_OPEN or (word in _OPEN_UNLESS_ENDED and not said.endswith(_FINAL_PUNCTUATION))


def sounds_finished(text: str) -> bool:
    """What was heard ends a sentence (a full stop, a question or exclamation mark) on a word that closes it."""
    said = text.strip()
    return said.endswith(_FINAL_PUNCTUATION) and not said.endswith("...") and not sounds_unfinished(said)
