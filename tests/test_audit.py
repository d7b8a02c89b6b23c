"""The traceability audit: it passes on the project, and fails loudly on an altered value or a gap."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from smnpc_kg.cli import main
from smnpc_kg.kg.audit import figures, read_exceptions, run_audit, table_lines
from smnpc_kg.kg.build import Project, assemble
from smnpc_kg.kg.source import SourceText
from smnpc_kg.store.embedded import OxigraphStore

EXPECTED = json.loads((Path(__file__).parent / "data" / "counts.expected.json").read_text(encoding="utf-8"))


def audit(project: Project):  # type: ignore[no-untyped-def]
    graph, _ = assemble(project, reason=False)
    return run_audit(OxigraphStore.from_graph(graph), SourceText.from_file(project.source_file),
                     read_exceptions(project.root / "evidence" / "coverage-exceptions.tsv"))


def test_project_passes_the_audit(store: OxigraphStore, project: Project) -> None:
    report = run_audit(store, SourceText.from_file(project.source_file),
                       read_exceptions(project.root / "evidence" / "coverage-exceptions.tsv"))
    assert report.failures == []
    assert report.gaps == []
    assert report.coverage >= 95.0
    assert report.checked["value-in-quote"] == EXPECTED["audit"]["value-in-quote"]
    assert report.checked["quote-in-source"] == EXPECTED["audit"]["quote-in-source"]
    assert report.universe == EXPECTED["audit"]["figures"]
    assert report.checked["quote-in-source"] == int(store.query("SELECT (COUNT(?q) AS ?n) WHERE { ?q a smo:Quote }").rows[0]["n"].value)
    assert report.ok


def test_altered_value_names_result_file_and_quote(scratch_project: Project) -> None:
    path = scratch_project.root / "evidence" / "studies" / "016-wu-2016.ttl"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("smo:value 46.0 ;", "smo:value 47.0 ;", 1), encoding="utf-8")
    report = audit(scratch_project)
    failures = [f for f in report.failures if f.check == "value-in-quote"]
    assert len(failures) == 1
    f = failures[0]
    assert f.node.endswith("result/ref16-t1-m1a-median-os")
    assert f.file == "evidence/studies/016-wu-2016.ttl"
    assert "47" in f.detail and "M1a Single lesion located into an isolated organ but not the liver 46" in f.detail
    assert not report.ok


def test_removed_result_leaves_a_named_gap(scratch_project: Project) -> None:
    path = scratch_project.root / "evidence" / "studies" / "016-wu-2016.ttl"
    text = path.read_text(encoding="utf-8")
    text, n = re.subn(r"result:ref16-t1-m1c-median-os a smo:Result ;.*?\.\n", "", text, count=1, flags=re.S)
    assert n == 1
    path.write_text(text, encoding="utf-8")
    report = audit(scratch_project)
    printed = "M1c Multiple lesions in the liver 18"  # the Table 1 row that result was read from
    lines = (scratch_project.root / "evidence" / "source" / "smnpc-review.txt").read_text(encoding="utf-8").splitlines()
    line = next(number for number, text in enumerate(lines, 1) if text.strip() == printed)
    assert [(g.line, g.number) for g in report.gaps] == [(line, "18")]
    assert not report.ok


def test_explained_gap_passes(scratch_project: Project) -> None:
    exceptions = scratch_project.root / "evidence" / "coverage-exceptions.tsv"
    rows = exceptions.read_text(encoding="utf-8").splitlines()
    exceptions.write_text("\n".join(rows[:1]) + "\n", encoding="utf-8")  # drop every explanation
    report = audit(scratch_project)
    assert {g.number for g in report.gaps} == {r.split("\t")[1] for r in rows[1:]}


def test_quote_missing_from_source_fails() -> None:
    store = OxigraphStore.from_turtle("""
        @prefix smo: <https://w3id.org/smnpc-kg/ontology#> . @prefix oa: <http://www.w3.org/ns/oa#> .
        <urn:q> a smo:Quote ; oa:exact "words the review never prints" .""")
    report = run_audit(store, SourceText("a short source text"))
    assert [f.check for f in report.failures] == ["quote-in-source"]


def test_reference_number_in_a_citation_range_is_printed(store: OxigraphStore, project: Project) -> None:
    """Reference 3 is only ever cited inside "(CT).2–4": the range prints it."""
    row = store.query("SELECT ?e WHERE { study:ref3 prov:wasDerivedFrom/oa:exact ?e }").rows[0]
    assert "2–4" in row["e"].value and "3" not in row["e"].value.replace("2–4", "")


def test_figure_universe(project: Project) -> None:
    source = SourceText.from_file(project.source_file)
    found = {(line, number) for _, line, number in figures(source)}
    assert (199, "46") in found and (199, "25") in found            # "46, 25, and 18 months"
    assert (412, "45") in found                                       # "45 (25%) patients"
    assert (953, "49.9") in found                                     # "<30, 30–49.9, 50–69.9, and ≥70Gy"
    assert not any(number == "9742" for _, number in found)           # NCI-9742 is a name
    assert table_lines(source) >= {329, 330, 332, 334, 339, 341, 343}  # Table 1 rows of Chen 2017 and Wu 2016


def test_cli_audit_json(capsys: pytest.CaptureFixture[str], project: Project) -> None:
    assert main(["--root", str(project.root), "audit", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True and report["coverage"]["percent"] >= 95


def test_cli_audit_fails_on_altered_value(capsys: pytest.CaptureFixture[str], scratch_project: Project) -> None:
    path = Path(scratch_project.root / "evidence" / "studies" / "055-verma-2017.ttl")
    path.write_text(path.read_text(encoding="utf-8").replace("smo:value 35.9 ;", "smo:value 36.9 ;", 1), encoding="utf-8")
    assert main(["--root", str(scratch_project.root), "audit"]) == 1
    out = capsys.readouterr().out
    assert "FAIL value-in-quote: evidence/studies/055-verma-2017.ttl:" in out and "36.9" in out
    assert out.rstrip().endswith("audit FAILED")
