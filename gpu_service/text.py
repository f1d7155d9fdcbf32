"""Split long text into sentences (and over-long sentences into clauses) so synthesis works in bounded pieces."""

from __future__ import annotations

import re

# Sentence ends: Latin punctuation followed by space, or CJK full-width punctuation (no space follows in Chinese).
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|(?<=[。！？；])")
_CLAUSE_END = re.compile(r"(?<=[,;:，、；：])\s*")
_SPACE = re.compile(r"\s+")


def split_sentences(text: str, max_chars: int = 300) -> list[str]:
    """Sentences of at most `max_chars` characters, in order, none empty; their concatenation keeps every word."""
    pieces: list[str] = []
    for sentence in _SENTENCE_END.split(_SPACE.sub(" ", text).strip()):
        pieces.extend(_bounded(sentence.strip(), max_chars))
    return [piece for piece in pieces if piece]


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
            current = f"{current} {part}" if current and not _is_cjk(part[:1]) else current + part
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


def _is_cjk(char: str) -> bool:
    return bool(char) and "\u3000" <= char <= "\u9fff"
