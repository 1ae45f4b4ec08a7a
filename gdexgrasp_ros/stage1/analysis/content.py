"""Whether an instruction has usable content, and how much of it the offline analyzer reads.

Two levels:

- `unreadable_reason` (every backend, via base.clean_instruction): text that is not language at
  all. It has no letters (only punctuation, digits, symbols, emoji), or at least BINARY_SHARE of
  its non-space characters are control characters, U+FFFD replacement characters (bytes that
  were not valid text), surrogates, private-use or unassigned code points: binary data or
  mis-decoded text.
- `word_coverage` (the offline analyzer): the share of the instruction's words that are words
  of a language the analyzer reads. A word (a run of letters, two or more; single letters are
  not counted) is recognised when it is an English word (the sentence model's whole-word
  vocabulary, the analyzer's vocabulary, or one typo away from the latter), a German, French
  or Spanish function word or lexicon entry, and a Chinese character is recognised when it is
  part of a Chinese lexicon entry. Words of other scripts and made-up words are not
  recognised. The offline analyzer refuses an instruction with no recognised word or a share
  below MIN_WORD_SHARE, and marks its answer as a low-confidence guess when the share is below
  GUESS_WORD_SHARE.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from . import multilingual

BINARY_SHARE = 0.10  # share of non-text code points from which an instruction is binary data
MIN_WORD_SHARE = 0.3  # below this share of recognised words the offline analyzer refuses
GUESS_WORD_SHARE = 0.5  # below this share its answer is marked as a guess

_NON_TEXT_CATEGORIES = frozenset({"Cc", "Cs", "Co", "Cn"})
_LETTERS = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*", re.UNICODE)
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")
_CHINESE_KEYS = sorted(multilingual.CHINESE, key=len, reverse=True)


def unreadable_reason(text: str) -> str | None:
    """Why `text` is not language at all (None when it may be)."""
    chars = [c for c in text if not c.isspace()]
    if not chars:
        return "the instruction is empty"
    bad = sum(c == "\ufffd" or unicodedata.category(c) in _NON_TEXT_CATEGORIES for c in chars)
    if bad >= BINARY_SHARE * len(chars):
        return (
            f"the instruction looks like binary data or mis-decoded text: {bad} of its {len(chars)} characters "
            "are control, replacement (U+FFFD), private-use or unassigned code points"
        )
    if not any(unicodedata.category(c).startswith("L") for c in chars):
        return "the instruction has no words: only punctuation, digits, symbols or emoji"
    return None


@dataclass(frozen=True)
class Coverage:
    """How many of an instruction's words (Chinese: characters) the analyzer recognises."""

    recognised: int
    total: int
    unknown: tuple[str, ...]  # a few unrecognised words, for messages

    @property
    def share(self) -> float:
        return self.recognised / self.total if self.total else 0.0

    def describe(self) -> str:
        return f"{self.recognised} of {self.total} words recognised"


def _han_coverage(run: str) -> tuple[int, int]:
    """(characters inside a Chinese lexicon entry, Han characters) of a run of text."""
    covered, i = 0, 0
    while i < len(run):
        key = next((k for k in _CHINESE_KEYS if run.startswith(k, i)), None)
        if key is not None:
            covered += len(key)
            i += len(key)
        else:
            covered += run[i] in multilingual.CHINESE_FUNCTION_CHARS
            i += 1
    return covered, len(_HAN.findall(run))


def word_coverage(text: str, english_word: Callable[[str], bool]) -> Coverage:
    """Recognised words of `text` (any case; NFKC is applied here); `english_word(w)` says whether
    a lower-case ASCII word is English as the analyzer knows it."""
    text = unicodedata.normalize("NFKC", text).lower().replace("’", "'")
    recognised = total = 0
    unknown: list[str] = []
    for match in _LETTERS.finditer(text):
        token = match.group()
        if _HAN.search(token):
            covered, han = _han_coverage(token)
            recognised, total = recognised + covered, total + han
            if covered < han:
                unknown.append(token)
            token = _HAN.sub(" ", token)
        for word in token.split():
            pieces = [p for p in word.split("'") if len(p) >= 2]
            if not pieces:
                continue  # single letters ("a", "l'") say nothing either way
            total += 1
            known = any((p.isascii() and english_word(p)) or multilingual.known_word(p) for p in [word, *pieces])
            recognised += known
            if not known:
                unknown.append(word)
    return Coverage(recognised, total, tuple(unknown[:5]))
