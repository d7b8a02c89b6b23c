"""The command line: one library call per command, clear one-line errors, never a traceback."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from smnpc_kg.cli import main
from smnpc_kg.kg.build import Project

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture()
def built_root(served_root: Path) -> Path:
    return served_root


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_query_formats(capsys: pytest.CaptureFixture[str], built_root: Path) -> None:
    q = "SELECT ?study ?n WHERE { ?study smo:referenceNumber 16 ; smo:sampleSize ?n }"
    code, out, _ = run(capsys, "--root", str(built_root), "query", q, "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["head"]["vars"] == ["study", "n"]
    assert doc["results"]["bindings"][0]["n"]["value"] == "505"
    code, out, _ = run(capsys, "--root", str(built_root), "query", q, "--format", "csv")
    assert list(csv.reader(io.StringIO(out))) == [["study", "n"], ["https://w3id.org/smnpc-kg/id/study/ref16", "505"]]
    code, out, _ = run(capsys, "--root", str(built_root), "query", q, "--format", "tsv")
    assert out.splitlines()[1].split("\t") == ["https://w3id.org/smnpc-kg/id/study/ref16", "505"]
    code, out, _ = run(capsys, "--root", str(built_root), "query", q)
    assert "study:ref16" in out and "505" in out and "1 row(s)" in out


def test_query_file(capsys: pytest.CaptureFixture[str], built_root: Path) -> None:
    code, out, _ = run(capsys, "--root", str(built_root), "query", str(ROOT / "queries" / "table-1.rq"), "--format", "tsv")
    assert code == 0 and len(out.splitlines()) == 15


@pytest.mark.parametrize("query,message", [
    ("SELECT ?s WHERE { ?s ?p ?o ", "SPARQL syntax error: error at 1:"),
    ("nosuch.rq", "nosuch.rq: cannot read query file"),
    ("SELECT ?r ?m ?st ?v ?lo ?hi ?u ?tp ?rel WHERE { ?r a smo:Result ; smo:outcomeMeasure ?m ; smo:statistic ?st ; smo:unit ?u . "
     "OPTIONAL{?r smo:value ?v} OPTIONAL{?r smo:lowValue ?lo ; smo:highValue ?hi} OPTIONAL{?r smo:timePoint ?tp} } ORDER BY ?r LIMIT 1", ""),
])
def test_query_errors_are_one_line(capsys: pytest.CaptureFixture[str], built_root: Path, query: str, message: str) -> None:
    code, _out, err = run(capsys, "--root", str(built_root), "query", query)
    if message:
        assert code == 1 and err.startswith("error: ") and message in err and "Traceback" not in err
    else:
        assert code == 0  # a long query is text, not a file name


def test_query_without_build_says_what_to_do(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "ontology").mkdir()
    (tmp_path / "ontology" / "smnpc.ttl").write_text("")
    code, _, err = run(capsys, "--root", str(tmp_path), "query", "ASK {}")
    assert code == 1 and "run `smnpc-kg build` first" in err


def test_demo_prints_both_tables(capsys: pytest.CaptureFixture[str], built_root: Path) -> None:
    code, out, _ = run(capsys, "--root", str(built_root), "demo")
    assert code == 0
    assert "Table 1 reproduced from the KG" in out and "Table 2 reproduced from the KG" in out
    assert "Rusthoven et al (2017)" in out and "Multivariate HR 0.61" in out and "3-year 54.5–72.7%" in out


def test_broken_file_gives_one_line_error_and_keeps_dist(scratch_project: Project) -> None:
    from smnpc_kg.kg.build import build

    build(scratch_project, reason=False)
    before = {p.name: p.read_bytes() for p in scratch_project.dist.iterdir()}
    path = scratch_project.root / "evidence" / "studies" / "029-chen-2013.ttl"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[30] = lines[30] + " ;;; oops"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "smnpc_kg.cli", "--root", str(scratch_project.root), "build"],
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith("error: evidence/studies/029-chen-2013.ttl:31:")
    assert {p.name: p.read_bytes() for p in scratch_project.dist.iterdir()} == before
