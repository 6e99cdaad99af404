"""Text analysis shared by indexing and querying, independent of the search engine.

Chinese has no spaces and business mail is full of names no dictionary knows (people, customers,
short company names), so Chinese is indexed as overlapping character bigrams and searched as
phrases of bigrams: any substring of two or more characters is found exactly, whatever its
neighbours (the approach of Lucene's CJK bigram analysis). The last character of every run is
also indexed alone, at the position of the last bigram, so a one-character query can be a prefix
search. tests/index/test_analysis_choice.py measures this choice against the alternatives.

Other scripts are split into words, case-folded and stemmed (Snowball English), so "shipped"
finds "shipping". Before either, text is folded: traditional Chinese to simplified (OpenCC), then
Unicode NFKC (full-width letters, digits and punctuation to their ordinary forms).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

import opencc
import Stemmer

# Han (with extensions and compatibility ideographs), kana, hangul: scripts written without spaces.
_CJK_CLASS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003134f"
_TOKENS = re.compile(rf"(?P<cjk>[{_CJK_CLASS}]+)|(?P<word>[^\W_{_CJK_CLASS}]+)")
MAX_WORD = 40  # longer "words" are base64, hashes or URLs run together: noise in the index


@dataclass(frozen=True, slots=True)
class Token:
    text: str
    position: int


@lru_cache(maxsize=1)
def _converter() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def fold(text: str) -> str:
    """Traditional to simplified, NFKC, case folding: one form for everything that reads the same."""
    if not text:
        return ""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", _converter().convert(text))
    return text.casefold()


@lru_cache(maxsize=200_000)  # mail repeats its words: most stems are looked up, not computed
def stem(word: str) -> str:
    return str(_stemmer().stemWord(word)) if word.isalpha() else word


def analyze(text: str) -> list[Token]:
    """Index tokens of `text` with positions; the same function drives queries (query_parts)."""
    tokens: list[Token] = []
    position = 0
    for match in _TOKENS.finditer(fold(text)):
        run = match.group("cjk")
        if run is None:
            word = match.group("word")
            if len(word) <= MAX_WORD:
                tokens.append(Token(stem(word), position))
                position += 1
            continue
        if len(run) == 1:
            tokens.append(Token(run, position))
            position += 1
            continue
        for i in range(len(run) - 1):
            tokens.append(Token(run[i : i + 2], position))
            position += 1
        tokens.append(Token(run[-1], position - 1))  # for one-character prefix searches
    return tokens


@dataclass(frozen=True, slots=True)
class QueryPart:
    """What one typed word or phrase becomes: terms that must follow each other, or a prefix."""

    terms: tuple[str, ...]
    prefix: bool = False


def query_parts(text: str) -> list[QueryPart]:
    """How a word or "phrase" the user typed is searched: one part per run of the same script.
    Parts that follow each other in `text` must follow each other in the message (a phrase of
    all the parts' terms); see phrase_terms."""
    parts: list[QueryPart] = []
    for match in _TOKENS.finditer(fold(text)):
        run = match.group("cjk")
        if run is None:
            word = match.group("word")
            parts.append(QueryPart((stem(word[:MAX_WORD]),)))
        elif len(run) == 1:
            parts.append(QueryPart((run,), prefix=True))
        else:
            parts.append(QueryPart(tuple(run[i : i + 2] for i in range(len(run) - 1))))
    return parts


def phrase_terms(parts: list[QueryPart]) -> list[str] | None:
    """The terms of a phrase over all parts; None if a one-character prefix part makes that
    impossible (the parts are then searched each on its own)."""
    if any(part.prefix for part in parts) and len(parts) > 1:
        return None
    return [term for part in parts for term in part.terms]


def words(text: str) -> Iterator[str]:
    """Plain folded words and CJK runs, unstemmed: for highlighting."""
    for match in _TOKENS.finditer(fold(text)):
        yield match.group(0)
