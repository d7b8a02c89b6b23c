"""What a request asks for, decided on rdflib's parse: queries run, updates and SERVICE are refused, deep nesting is a 400."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smnpc_kg.kg.queries import library
from smnpc_kg.web.operation import MAX_NESTING, Decisions, decide, expand_escapes

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = library(ROOT / "queries")


def test_every_library_query_runs_and_is_parsed_once() -> None:
    cache = Decisions(allow_federation=False)
    start = time.perf_counter()
    for q in LIBRARY:
        assert cache.get(q.text).runs, (q.name, cache.get(q.text).message)
    cold = time.perf_counter() - start
    start = time.perf_counter()
    for q in LIBRARY:
        cache.get(q.text)
    warm = time.perf_counter() - start
    assert len(LIBRARY) >= 50 and warm < cold / 100, (cold, warm)


@pytest.mark.parametrize("text,status", [
    ("ASK { ?s smo:referenceNumber 16 }", 200),  # the project's prefixes need no declaration
    ('SELECT ?s WHERE { ?s ?p "INSERT DATA SERVICE CLEAR ALL" }', 200),
    ("SELECT * WHERE { ?s ?p ?o } # SERVICE <http://127.0.0.1:9/> {}", 200),  # a comment
    ("SELECT * WHERE { #x\rSERVICE <http://127.0.0.1:9/> { ?s ?p ?o } }", 403),
    ("SELECT * WHERE { \\u0053ERVICE <http://127.0.0.1:9/> { ?s ?p ?o } }", 403),
    ("SELECT * WHERE { #x\\u000A0020 <urn:p> ?o . SERVICE <http://127.0.0.1:9/> { ?s ?p ?o }\n}", 403),
    ("\\u0049NSERT DATA { <urn:a> <urn:b> <urn:c> }", 403),
    ("\ufeffINSERT DATA { <urn:a> <urn:b> <urn:c> }", 403),
    ("\u200bCLEAR ALL", 403),
    ("ASK {} ; DROP ALL", 403),
    ("#x\rLOAD <file:///etc/passwd>", 403),
    ("\ufeffASK {}", 400),  # the invisible character only chooses the refusal's status: it never lets a query run
    ("", 400),
    ("# only a comment", 400),
    ("ASK { \\uD800 }", 400),
    ("ASK { ?s ?p ", 400),
])
def test_decisions(text: str, status: int) -> None:
    decision = decide(text)
    assert decision.status == status, decision
    assert decision.runs == (status == 200)


def test_federation_on_lets_service_run() -> None:
    decision = decide("SELECT * WHERE { SERVICE <http://127.0.0.1:9/> { ?s ?p ?o } }", allow_federation=True)
    assert decision.runs and decision.federated


def test_the_store_runs_the_text_the_parser_read() -> None:
    assert decide("ASK { #x\r FILTER(false) }").text == "ASK { #x\n FILTER(false) }"
    assert decide('ASK { FILTER("\\u2013" = "–") }').text == 'ASK { FILTER("–" = "–") }'


def test_escapes_are_expanded_as_the_spec_says() -> None:
    assert expand_escapes("\\u00530045") == "S0045"  # four digits after \u (rdflib's own pass reads eight)
    assert expand_escapes("\\U0001F600\\u0041") == "\U0001F600A"


@pytest.mark.parametrize("depth,status", [(MAX_NESTING - 4, 200), (MAX_NESTING + 1, 400), (10_000, 400)])
def test_nesting_is_bounded(depth: int, status: int) -> None:
    decision = decide("ASK " + "{ " * depth + "}" * depth)
    assert decision.status == status
    if status == 400:
        assert f"nests deeper than {MAX_NESTING} levels" in decision.message


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=300) | st.sampled_from([q.text for q in LIBRARY]).flatmap(
    lambda q: st.tuples(st.integers(0, len(q)), st.integers(0, 30), st.text(max_size=6)).map(
        lambda cut: q[:cut[0]] + cut[2] + q[cut[0] + cut[1]:])))
def test_any_text_gets_a_decision(text: str) -> None:
    decision = decide(text)
    assert decision.status in (200, 400, 403) and (decision.runs or decision.message)
    assert "\n" not in decision.message


# ------------------------------------------------------------------ the command line
def _query(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "smnpc_kg.cli", "--root", str(root), "query", *args],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("text,message", [
    ("ASK " + "{ " * 10_000 + "}" * 10_000, "nests deeper than 64 levels"),
    ("CLEAR ALL", "read-only"),
    ("\\u0049NSERT DATA { <urn:a> <urn:b> <urn:c> }", "read-only"),
])
def test_the_command_line_refuses_with_one_line(served_root: Path, tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "q.rq"
    path.write_text(text, encoding="utf-8")
    done = _query(served_root, str(path))
    assert done.returncode == 1 and message in done.stderr and len(done.stderr.strip().splitlines()) == 1, done


def test_a_query_file_must_be_a_regular_file(served_root: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "q.rq"
    os.mkfifo(fifo)
    for path in ("/dev/zero", str(fifo)):
        done = _query(served_root, path)
        assert done.returncode == 1 and "not a regular file" in done.stderr and len(done.stderr.splitlines()) == 1, done
