"""Fuzzing: every input to the patient parsers and the endpoint's routes gets a result or a clear error, never a crash."""

from __future__ import annotations

import json
import tempfile
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rdflib import Graph

from smnpc_kg.clinical.classify import Classifier, Definitions
from smnpc_kg.clinical.pathway import Pathway
from smnpc_kg.clinical.patient import from_json, read_patients
from smnpc_kg.core.errors import SmnpcError
from smnpc_kg.kg.queries import library
from smnpc_kg.store.embedded import OxigraphStore
from tests.test_server import http

pytestmark = pytest.mark.slow  # hypothesis fuzzing (some against a running server)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = [json.loads(p.read_text()) for p in sorted((ROOT / "examples" / "patients").glob("*.json"))]
TURTLE_EXAMPLE = next((ROOT / "examples" / "patients").glob("*.ttl")).read_text()
QUERIES = [q.text for q in library(ROOT / "queries")]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)


@st.composite
def near_valid_patients(draw: st.DrawFn) -> Any:
    """A real example patient with some fields replaced by arbitrary JSON, some removed and some added."""
    patient = dict(draw(st.sampled_from(EXAMPLES)))
    for key in draw(st.lists(st.sampled_from(sorted(patient)), max_size=3, unique=True)):
        if draw(st.booleans()):
            patient[key] = draw(json_values)
        else:
            del patient[key]
    if draw(st.booleans()):
        patient[draw(st.sampled_from(["chen2016", "lesion_count", "response", "metastatic_sites", "x"]))] = draw(json_values)
    return patient


patients = near_valid_patients() | json_values


@pytest.fixture(scope="module")
def engines(store: OxigraphStore) -> tuple[Classifier, Pathway]:
    definitions = Definitions(Graph().parse(ROOT / "ontology" / "smnpc.ttl"))
    return Classifier(definitions, store), Pathway(store, definitions)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=patients)
def test_patient_json_is_a_patient_or_a_clear_error(engines: tuple[Classifier, Pathway], data: Any) -> None:
    classifier, pathway = engines
    try:
        patient = from_json(data)
    except SmnpcError as exc:
        assert str(exc) and "Traceback" not in str(exc)
        return
    classifier.report(patient)  # a patient that parses is classified and walked without error
    pathway.walk(patient)


def _mutate(text: str, cuts: list[tuple[int, int, str]]) -> str:
    for start, length, insert in cuts:
        at = start % (len(text) + 1)
        text = text[:at] + insert + text[at + length:]
    return text


mutations = st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 20), st.text(max_size=8)), min_size=1, max_size=4)


@settings(max_examples=200, deadline=None)
@given(cuts=mutations, suffix=st.sampled_from([".ttl", ".json", ".txt"]))
def test_patient_files_are_patients_or_a_clear_error(cuts: list[tuple[int, int, str]], suffix: str) -> None:
    source = TURTLE_EXAMPLE if suffix != ".json" else json.dumps(EXAMPLES[0])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"patient{suffix}"
        path.write_text(_mutate(source, cuts), encoding="utf-8")
        try:
            read_patients(path)
        except SmnpcError as exc:
            assert str(path) in str(exc)  # the error names the file


@settings(max_examples=50, deadline=None)
@given(raw=st.binary(max_size=200), deep=st.integers(0, 3000))
def test_binary_and_deeply_nested_files(raw: bytes, deep: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for name, data in (("p.json", raw), ("q.json", b"[" * deep + b"]" * deep), ("r.ttl", raw)):
            path = Path(tmp) / name
            path.write_bytes(data)
            try:
                read_patients(path)
            except SmnpcError as exc:
                assert name in str(exc)


# ------------------------------------------------------------------ the endpoint's routes
ALLOWED = {200, 400, 403, 406, 413, 415, 503}

queries = (
    st.text(max_size=200)
    | st.builds(_mutate, st.sampled_from(QUERIES), mutations)
    | st.lists(st.sampled_from(["SELECT", "ASK", "CONSTRUCT", "DESCRIBE", "WHERE", "{", "}", "?s", "?p", "?o", "smo:Result",
                                "a", ".", ";", "OPTIONAL", "FILTER(", ")", "UNION", "GRAPH", "<urn:x>", '"x"', "*", "LIMIT",
                                "10", "ORDER BY", "GROUP BY", "COUNT(", "AS", "SERVICE", "INSERT", "VALUES", "BIND(", "/",
                                "|", "^", "+", "?", "!",
                                # what hid updates and SERVICE from a text pattern: line ends, escapes, invisible
                                # characters, odd IRIs, a second operation, and nesting
                                "#x\r", "#\\u000A", "\r\n", "\\u0053ERVICE", "\\u0049NSERT DATA", "\ufeff", "\u200b",
                                "<urn:a\u00a0#>", "<urn:a\u2028>", "; CLEAR ALL", "DATA", "{" * 70, "}" * 70, "(" * 70,
                                '"\\' * 50, '"""']), max_size=25).map(lambda parts: "".join(
                                    p + (" " if i % 3 else "") for i, p in enumerate(parts)))
)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(query=queries, how=st.sampled_from(["get", "form", "direct"]),
       accept=st.sampled_from(["", "application/sparql-results+json", "text/csv", "text/turtle", "*/*", "image/png"]) | st.text(max_size=30),
       fmt=st.none() | st.sampled_from(["json", "xml", "tsv", "nt", "bogus"]))
def test_query_route_never_fails_with_500(server: str, query: str, how: str, accept: str, fmt: str | None) -> None:
    params = {"format": fmt} if fmt else {}
    headers = {"Accept": accept.encode("latin-1", "replace").decode("latin-1").replace("\n", " ").replace("\r", " ")}
    if how == "get":
        status, _, body = http(f"{server}/sparql?" + urllib.parse.urlencode({"query": query, **params}), headers=headers)
    elif how == "form":
        status, _, body = http(f"{server}/sparql?" + urllib.parse.urlencode(params), headers={
            **headers, "Content-Type": "application/x-www-form-urlencoded"}, data=urllib.parse.urlencode({"query": query}).encode())
    else:
        status, _, body = http(f"{server}/sparql?" + urllib.parse.urlencode(params), headers={
            **headers, "Content-Type": "application/sparql-query"}, data=query.encode("utf-8", "surrogatepass"))
    assert status in ALLOWED, (status, query, body[:300])
    assert b"Traceback" not in body


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=patients | st.lists(near_valid_patients(), max_size=3), route=st.sampled_from(["recommend", "classify"]),
       raw=st.none() | st.binary(max_size=50))
def test_patient_routes_never_fail_with_500(server: str, data: Any, route: str, raw: bytes | None) -> None:
    body = raw if raw is not None else json.dumps(data).encode()
    status, _, answer = http(f"{server}/{route}", data=body, headers={"Content-Type": "application/json"})
    assert status in (200, 400, 413), (status, data, answer[:300])
    assert b"Traceback" not in answer
    if status == 400:
        assert answer.strip()  # a message, not an empty error


# ------------------------------------------------------------------ the parser that decides and the engine that runs agree
SERVICE_CALLS = ["SERVICE <{url}> { ?s ?p ?o }", "SERVICE SILENT <{url}> {}", "service ?u { ?a ?b ?c }",
                 "\\u0053ERVICE <{url}> {}", "OPTIONAL { SERVICE <{url}> {} }"]
#: Pairs that might hide what lies between them from one reader of SPARQL but not from another: comments and their
#: ends (real, escaped, and characters some readers take for a line end), strings of every kind, escaped delimiters.
HIDERS = [("#x\r", "\n"), ("#x\\u000A", "\n"), ("#x\\u000D", "\n"), ("#x\u2028", "\n"), ("#x\x85", "\n"),
          ("#x\x0b", "\n"), ("#x\x0c", "\n"), ("#x\u0000", "\n"), ("\\u0023x", "\n"), ("#<urn:a#>", "\n"),
          ('?s ?p """', '""" .'), ("?s ?p '''", "''' ."), ('?s ?p "\\u0022 ', '" .'), ('?s ?p "\\"', '" .'),
          ('?s ?p """\\"""', '""" .'), ('?s ?p "x\\u000A', '" .'), ("?s <urn:a#> ?o . #", "\n"),
          ("?s <urn:a\u00a0#> ?o .", ""), ("?s ?p 'a\r", "' ."), ("?s ?p <urn:a", "> ."), ("", "")]


@st.composite
def near_service_queries(draw: st.DrawFn) -> str:
    """A SERVICE call between a pair of would-be hiders, inside a query that is otherwise valid."""
    opening, closing = draw(st.sampled_from(HIDERS))
    call = draw(st.sampled_from(SERVICE_CALLS))
    space = draw(st.sampled_from([" ", "", "\n", "\t"]))
    values = "VALUES ?u { <{url}> } " if draw(st.booleans()) else ""
    return f"SELECT * WHERE {{ {values}?s ?p ?o . {opening}{space}{call}{space}{closing}\n}}"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=near_service_queries())
def test_a_query_the_decision_lets_run_never_calls_out(text: str) -> None:
    """Whatever rdflib's parse lets run (federation off), Oxigraph running that very text sends nothing anywhere."""
    import contextlib

    import pyoxigraph as ox

    from smnpc_kg.web.operation import decide
    from tests.servers import listener

    with listener() as target:
        decision = decide(text.replace("{url}", target.url))
        if decision.runs:
            with contextlib.suppress(SyntaxError, OSError, ValueError, RuntimeError, TypeError):
                list(ox.Store().query(decision.text))  # type: ignore[arg-type]
        assert target.connections == 0, (text, decision)
