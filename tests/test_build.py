"""The build: counts, determinism, atomic output, and clear errors on bad input."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from smnpc_kg.core.errors import ParseError, SourceError, ValidationError
from smnpc_kg.kg.build import Counts, Project, build, parse_turtle
from smnpc_kg.kg.dist import DIST_FILES, MANIFEST

ROOT = Path(__file__).resolve().parent.parent
EXPECTED = json.loads((ROOT / "tests" / "data" / "counts.expected.json").read_text(encoding="utf-8"))


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_counts_and_manifest(built: tuple[Path, Counts]) -> None:
    out, counts = built
    assert counts.as_dict() == EXPECTED["build"]
    manifest = json.loads((out / MANIFEST).read_text())
    for name in DIST_FILES:
        assert manifest["files"][name] == hashlib.sha256((out / name).read_bytes()).hexdigest()
    assert manifest["counts"]["triples"] == counts.triples


def test_outputs_parse_to_the_same_graph(built: tuple[Path, Counts]) -> None:
    from rdflib import Graph
    from rdflib.compare import isomorphic

    out, counts = built
    graphs = [Graph().parse(out / name, format=fmt) for name, fmt in
              (("smnpc-kg.ttl", "turtle"), ("smnpc-kg.nt", "nt"), ("smnpc-kg.jsonld", "json-ld"))]
    assert all(len(g) == counts.triples for g in graphs)
    assert isomorphic(graphs[0], graphs[1]) and isomorphic(graphs[1], graphs[2])


def test_build_is_byte_identical_across_processes(tmp_path: Path) -> None:
    """Two builds in fresh interpreters with different hash seeds give the same bytes."""
    outs = []
    for seed in ("1", "2"):
        out = tmp_path / f"dist{seed}"
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run([sys.executable, "-m", "smnpc_kg.cli", "--root", str(ROOT), "build", "--no-reason",
                        "--out", str(out)], check=True, env=env, capture_output=True)
        outs.append(digests(out))
    assert outs[0] == outs[1]


def test_quotes_get_positions_from_the_build(store) -> None:  # type: ignore[no-untyped-def]
    rows = store.query("""SELECT ?q ?line ?prefix WHERE { ?q a smo:Quote ; smo:sourceLine ?line ; oa:prefix ?prefix ;
                           oa:suffix ?suffix ; oa:start ?s ; oa:end ?e . FILTER(?e > ?s) }""").rows
    total = store.query("SELECT (COUNT(?q) AS ?n) WHERE { ?q a smo:Quote }").rows[0]["n"].value
    assert len(rows) == int(total)


def _break(project: Project, rel: str, old: str, new: str) -> None:
    path = project.root / rel
    text = path.read_text(encoding="utf-8")
    assert old in text, f"fixture text not found in {rel}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_broken_turtle_names_file_and_line_and_leaves_dist(scratch_project: Project) -> None:
    build(scratch_project, reason=False)
    before = digests(scratch_project.dist)
    _break(scratch_project, "evidence/studies/016-wu-2016.ttl", "smo:referenceNumber 16 ;", "smo:referenceNumber 16 ;;;; [")
    with pytest.raises(ParseError) as err:
        build(scratch_project, reason=False)
    assert "evidence/studies/016-wu-2016.ttl:" in str(err.value)
    line = int(str(err.value).split("016-wu-2016.ttl:")[1].split(":")[0])
    assert "referenceNumber 16" in (scratch_project.root / "evidence/studies/016-wu-2016.ttl").read_text().splitlines()[line - 1]
    assert digests(scratch_project.dist) == before


def test_shape_violation_names_node_and_file(scratch_project: Project) -> None:
    _break(scratch_project, "evidence/studies/016-wu-2016.ttl", "    smo:unit smo:Month ;\n    prov:wasDerivedFrom quote:ref16-t1-m1a .",
           "    prov:wasDerivedFrom quote:ref16-t1-m1a .")
    with pytest.raises(ValidationError) as err:
        build(scratch_project, reason=False)
    assert any("016-wu-2016.ttl: result:ref16-t1-m1a-median-os smo:unit" in d for d in err.value.details)


def test_recommendation_without_finding_is_rejected(scratch_project: Project) -> None:
    extra = scratch_project.root / "evidence" / "zz-test.ttl"
    extra.write_text("""@prefix smo: <https://w3id.org/smnpc-kg/ontology#> .
@prefix rec: <https://w3id.org/smnpc-kg/id/recommendation/> .
@prefix quote: <https://w3id.org/smnpc-kg/id/quote/> .
@prefix prov: <http://www.w3.org/ns/prov#> .
rec:x a smo:Recommendation ; smo:direction smo:directionFor ; smo:statement "x" ; prov:wasDerivedFrom quote:ref16-t1-m1a .
""", encoding="utf-8")
    with pytest.raises(ValidationError) as err:
        build(scratch_project, reason=False)
    assert any("rec:x smo:supportedBy" in d and "at least one finding" in d for d in err.value.details)


def test_quote_not_in_source_is_rejected(scratch_project: Project) -> None:
    _break(scratch_project, "evidence/studies/016-wu-2016.ttl", "Multiple lesions in the liver 18\"", "Multiple lesions in the lung 18\"")
    with pytest.raises(SourceError, match=r"016-wu-2016\.ttl: quote:ref16-t1-m1c"):
        build(scratch_project, reason=False)


def test_misspelt_term_is_rejected(scratch_project: Project) -> None:
    _break(scratch_project, "evidence/studies/016-wu-2016.ttl", "smo:outcomeMeasure smo:OverallSurvival", "smo:outcomeMeasure smo:OveralSurvival")
    with pytest.raises(ValidationError) as err:
        build(scratch_project, reason=False)
    assert any("unknown term smo:OveralSurvival" in d for d in err.value.details)


def test_inconsistency_is_caught_by_hermit(scratch_project: Project) -> None:
    _break(scratch_project, "evidence/studies/016-wu-2016.ttl", "study:ref16 a smo:Study ;",
           "study:ref16 a smo:PhaseIITrial , smo:RetrospectiveCohortStudy ;")
    with pytest.raises(ValidationError, match="inconsistent under HermiT"):
        build(scratch_project, reason=True)


def test_unreadable_file_is_reported() -> None:
    with pytest.raises(ParseError, match="cannot read file"):
        parse_turtle(Path("/nonexistent/x.ttl"))
