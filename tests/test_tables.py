"""Tables 1 and 2 of the review, reproduced from the KG by queries/table-*.rq, cell for cell."""

from __future__ import annotations

import csv
import re
from decimal import Decimal
from pathlib import Path

import pytest

from smnpc_kg.kg.source import SourceText
from smnpc_kg.store.embedded import OxigraphStore

DATA = Path(__file__).parent / "data"
NUMBER = re.compile(r"\d+(?:\.\d+)?")


def canonical(cell: str) -> str:
    """Compare cells as printed, numbers by value ("41.0" == "41", "0.40" == "0.4")."""
    return NUMBER.sub(lambda m: f"{Decimal(m.group()).normalize():f}", cell.strip())


def expected(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


@pytest.mark.parametrize("table", ["table-1", "table-2"])
def test_table_reproduced_row_for_row(table: str, store: OxigraphStore, project) -> None:  # type: ignore[no-untyped-def]
    query = (project.root / "queries" / f"{table}.rq").read_text(encoding="utf-8")
    results = store.query(query)
    rows = expected(f"{table}.expected.tsv")
    assert len(results.rows) == len(rows), f"{table}: {len(results.rows)} rows, the review prints {len(rows)}"
    for i, (got, want) in enumerate(zip(results.rows, rows, strict=True), 1):
        for column, value in want.items():
            cell = got[column].value if column in got else ""
            assert canonical(cell) == canonical(value), f"{table} row {i} column {column}: {cell!r} != printed {value!r}"


@pytest.mark.parametrize("table,column", [("table-1", "survival"), ("table-2", "medianOS"), ("table-2", "statistic")])
def test_expected_cells_are_printed_in_the_review(table: str, column: str, project) -> None:  # type: ignore[no-untyped-def]
    """The expected files are transcriptions: every non-empty cell must stand in the review text."""
    source = SourceText.from_file(project.source_file)
    for row in expected(f"{table}.expected.tsv"):
        if row[column]:
            assert source.find_all(row[column]), f"{row[column]!r} is not in the review"
