"""The query library: every .rq file has its header and runs; section and contradiction queries answer."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from smnpc_kg.kg.queries import parse_header
from smnpc_kg.kg.source import printed_in
from smnpc_kg.store.embedded import OxigraphStore

ROOT = Path(__file__).resolve().parent.parent
EXPECTED_CONTRADICTIONS = json.loads((ROOT / "tests" / "data" / "counts.expected.json").read_text(encoding="utf-8"))["contradictions"]
QUERIES = sorted(p for p in (ROOT / "queries").rglob("*.rq"))


MANIFEST = {row["query"]: int(row["rows"]) for row in csv.DictReader(
    (ROOT / "queries" / "manifest.tsv").open(encoding="utf-8"), delimiter="\t")}


@pytest.mark.parametrize("path", QUERIES, ids=lambda p: str(p.relative_to(ROOT / "queries")))
def test_query_has_header_runs_and_matches_the_manifest(path: Path, store: OxigraphStore) -> None:
    text = path.read_text(encoding="utf-8")
    header = parse_header(text, str(path))
    assert header.keywords
    results = store.query(text)
    name = str(path.relative_to(ROOT / "queries").with_suffix(""))
    if name.startswith("derive/"):
        assert results.triples, f"{name} derives nothing"
        return
    assert name in MANIFEST, f"queries/{name}.rq has no entry in queries/manifest.tsv: add its expected row count"
    assert len(results.rows) == MANIFEST[name], f"{name}: {len(results.rows)} rows, the manifest expects {MANIFEST[name]}"
    if name.startswith("checks/"):
        assert name.endswith("-violation") and MANIFEST[name] == 0
    elif path.parent.name == "queries":
        assert results.rows, f"{path.name} returned no rows"


def test_library_has_enough_competency_questions() -> None:
    top = [n for n in MANIFEST if "/" not in n]
    assert len(top) >= 20 and len(MANIFEST) >= 25
    assert set(MANIFEST) <= {str(p.relative_to(ROOT / "queries").with_suffix("")) for p in QUERIES}, "the manifest names a missing query"


def test_checks_catch_violations() -> None:
    bad = OxigraphStore.from_turtle("""
        @prefix smo: <https://w3id.org/smnpc-kg/ontology#> . @prefix prov: <http://www.w3.org/ns/prov#> .
        <urn:r> a smo:Result ; smo:reportedBy <urn:nowhere> .""")
    for check, expect in (("result-without-quote", 1), ("dangling-reference", 1)):
        text = (ROOT / "queries" / "checks" / f"{check}-violation.rq").read_text(encoding="utf-8")
        assert len(bad.query(text).rows) == expect, check


def test_examples_are_published_as_rdf(store: OxigraphStore) -> None:
    rows = store.query("""SELECT ?q ?select WHERE { ?q a sh:SPARQLExecutable ; rdfs:comment ?c ; sh:select ?select ;
                             sh:prefixes/sh:declare/sh:prefix "smo" }""").rows
    assert len(rows) == sum(1 for n in MANIFEST)  # every library query, SELECTs all
    table1 = next(r for r in rows if r["q"].value.endswith("/query/table-1"))
    assert "smo:StratificationScheme" in table1["select"].value


SECTIONS = sorted((ROOT / "queries" / "sections").glob("*.rq"))


@pytest.mark.parametrize("path", SECTIONS, ids=lambda p: p.stem)
def test_section_query_returns_its_results_with_quotes(path: Path, store: OxigraphStore) -> None:
    section = path.stem.split("-", 1)[1]
    expected = int(store.query(f"""SELECT (COUNT(DISTINCT ?r) AS ?n) WHERE {{ ?r a smo:Result ;
        prov:wasDerivedFrom/smo:section section:{section} }}""").rows[0]["n"].value)
    rows = store.query(path.read_text(encoding="utf-8")).rows
    assert len(rows) == expected
    for row in rows:
        value = row["value"].value.lstrip("<>≥≤~=")
        first = value.split("–")[0]
        assert printed_in(first, row["quote"].value), f"{first} not printed in {row['quote'].value!r}"


def test_every_section_with_results_has_a_query(store: OxigraphStore) -> None:
    sections = {r["s"].value.rsplit("/", 1)[1] for r in store.query(
        "SELECT DISTINCT ?s WHERE { ?r a smo:Result ; prov:wasDerivedFrom/smo:section ?s }").rows}
    assert sections <= {p.stem.split("-", 1)[1] for p in SECTIONS}


def test_contradictions_query_lists_every_flagged_inconsistency(store: OxigraphStore) -> None:
    rows = store.query((ROOT / "queries" / "contradictions.rq").read_text(encoding="utf-8")).rows
    by_contradiction: dict[str, list[str]] = {}
    for row in rows:
        by_contradiction.setdefault(row["contradiction"].value, []).append(row["value"].value)
    total = int(store.query("SELECT (COUNT(?c) AS ?n) WHERE { ?c a smo:Contradiction }").rows[0]["n"].value)
    assert len(by_contradiction) == total == EXPECTED_CONTRADICTIONS
    assert all(len(values) >= 2 for values in by_contradiction.values())
    ref17 = by_contradiction["https://w3id.org/smnpc-kg/id/contradiction/ref17-first-author"]
    assert sorted(set(ref17)) == ["Shen", "Xia"]
    sun = by_contradiction["https://w3id.org/smnpc-kg/id/contradiction/ref18-middle-risk-os-3y"]
    assert any("60" in v for v in sun) and any("54.9" in v for v in sun)
