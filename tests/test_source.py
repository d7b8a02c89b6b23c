"""Finding quotes in the extracted review text, and reading its numbers."""

from __future__ import annotations

from decimal import Decimal

import pytest

from smnpc_kg.core.errors import SourceError
from smnpc_kg.kg.source import SourceText, numbers_in, printed_in

RAW = (
    "with median progression-free survi-\n\nval (PFS) and OS were 7.0 vs 5.6 months, and 29.1 vs\n\n"
    "20.9 months, respectively.26 grade 3/\n\n4 toxicities, cisplatin-\n\nbased doublets"
)


@pytest.mark.parametrize("quote", [
    "median progression-free survival (PFS)",          # break hyphen dropped
    "progression-free survi-val",                        # break hyphen kept
    "29.1 vs 20.9 months, respectively.26",             # line break as a space
    "grade 3/4 toxicities",                              # line break after a slash
    "cisplatin-based doublets",                          # a real hyphen at a line end
    "  OS   were 7.0 ",                                  # white space folded
])
def test_quote_found_across_extraction_artefacts(quote: str) -> None:
    assert SourceText(RAW).find_all(quote)


@pytest.mark.parametrize("quote", [
    "progression free survival",   # a hyphen the text has is not optional
    "7.0 vs 5.7 months",           # a changed number
    "7.0vs 5.6",                   # a space within a line is required
    "",
])
def test_quote_not_found(quote: str) -> None:
    assert not SourceText(RAW).find_all(quote)


def test_locate_gives_offsets_context_and_line() -> None:
    src = SourceText(RAW)
    match = src.locate("29.1 vs 20.9 months")
    assert src.raw[match.start:match.end].startswith("29.1")
    assert match.prefix.endswith("5.6 months, and")
    assert match.suffix.startswith(", respectively.26")
    assert src.line_of(match.start) == 3
    assert match.occurrences == 1


def test_locate_raises_with_hint() -> None:
    with pytest.raises(SourceError, match="quote not found"):
        SourceText(RAW, "review").locate("no such words")


def test_numbers_and_printed_forms() -> None:
    assert numbers_in("peak annual incidence approaching 30/\n\n100,000 persons") == [Decimal(30), Decimal(100000)]
    assert printed_in(Decimal("80.0"), "3-year 80.0%")
    assert printed_in(Decimal("80"), "3-year 80.0%")
    assert not printed_in(Decimal("8"), "3-year 80.0%")
    assert printed_in(Decimal("0.40"), "HR 0.40, p<0.001")
    assert printed_in(26, "respectively.26")


def test_project_source_is_the_shared_review(project) -> None:  # type: ignore[no-untyped-def]
    text = project.source_file.read_text(encoding="utf-8")
    assert "synchronous metastasis" in text
    assert len(text.splitlines()) > 1000
