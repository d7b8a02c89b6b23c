"""The review text: locating quotes in it and reading its numbers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path

from smnpc_kg.core.errors import SourceError

#: Where the project's copy of the review lives, relative to the repository root.
SOURCE_RELPATH = Path("evidence") / "source" / "smnpc-review.txt"

# Between two adjacent characters of a quote the extracted text may hold a line break,
# and a hyphen that the line break split a word with ("survi-\n\nval").
_JOIN = r"(?:-?[ \t]*\n\s*)?"
_NUMBER = re.compile(r"\d+(?:,\d{3})*(?:\.\d+)?")
_CONTEXT = 40


@dataclass(frozen=True)
class Match:
    """Where a quote stands in the raw source: character offsets and the text around it."""

    start: int
    end: int
    prefix: str
    suffix: str
    occurrences: int


def squash(text: str) -> str:
    """Collapse runs of white space to one space.

    >>> squash("median OS\\n\\nof 12 months ")
    'median OS of 12 months'
    """
    return " ".join(text.split())


def quote_pattern(quote: str) -> re.Pattern[str]:
    """A regex that finds ``quote`` in the raw text, across line breaks and break hyphens.

    >>> bool(quote_pattern("progression-free survival").search("progression-free survi-\\n\\nval"))
    True
    """
    parts: list[str] = []
    words = squash(quote).split(" ")
    for i, word in enumerate(words):
        if i:
            parts.append(r"\s+")
        parts.append(_JOIN.join(re.escape(ch) for ch in word))
    return re.compile("".join(parts))


class SourceText:
    """The review as extracted, with quote look-up.

    >>> src = SourceText("The ORR was\\n\\n25.9%.44 Similar results")
    >>> src.locate("ORR was 25.9%").start
    4
    """

    def __init__(self, raw: str, name: str = "source") -> None:
        self.raw = raw
        self.name = name

    @classmethod
    def from_file(cls, path: Path) -> SourceText:
        try:
            return cls(path.read_text(encoding="utf-8"), str(path))
        except OSError as exc:
            raise SourceError(f"cannot read the source text: {exc.strerror}", where=str(path),
                              hint="the review text belongs at evidence/source/smnpc-review.txt") from exc

    def find_all(self, quote: str) -> list[re.Match[str]]:
        if not squash(quote):
            return []
        return list(quote_pattern(quote).finditer(self.raw))

    def locate(self, quote: str) -> Match:
        """The first place ``quote`` occurs; raises SourceError when it does not occur."""
        found = self.find_all(quote)
        if not found:
            raise SourceError(f"quote not found in {self.name}: {squash(quote)[:80]!r}",
                              hint="copy the words exactly as the review prints them")
        first = found[0]
        prefix = squash(self.raw[max(0, first.start() - _CONTEXT * 2):first.start()])
        suffix = squash(self.raw[first.end():first.end() + _CONTEXT * 2])
        return Match(first.start(), first.end(), prefix[-_CONTEXT:].lstrip(), suffix[:_CONTEXT].rstrip(),
                     len(found))

    def line_of(self, offset: int) -> int:
        """1-based line number of a character offset."""
        return self.raw.count("\n", 0, offset) + 1


def numbers_in(text: str) -> list[Decimal]:
    """The numbers printed in a text, as decimals ("100,000" is one number).

    >>> [str(n) for n in numbers_in("ORR 25.9% and 5.1months, 30/100,000")]
    ['25.9', '5.1', '30', '100000']
    """
    found: list[Decimal] = []
    for token in _NUMBER.findall(text):
        try:
            found.append(Decimal(token.replace(",", "")))
        except InvalidOperation:  # pragma: no cover - the pattern admits only digits
            continue
    return found


def printed_in(value: Decimal | int | float | str, text: str) -> bool:
    """Whether ``value`` is printed as a number in ``text`` (46 matches "46", 80.0 matches "80.0%").

    >>> printed_in(Decimal("0.37"), "HR 0.37, p<0.001"), printed_in(37, "HR 0.37")
    (True, False)
    """
    target = Decimal(str(value))
    return any(n == target for n in numbers_in(text))


@lru_cache(maxsize=4)
def load_source(path: Path) -> SourceText:
    return SourceText.from_file(path)
