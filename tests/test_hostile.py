"""Hostile input at the endpoint: refused with the right status, nothing changed, the server keeps answering."""

from __future__ import annotations

import http.client as httpclient
import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import smnpc_server
from tests.test_server import COUNT, get, http

TIMEOUT_S = 3


@pytest.fixture(scope="module")
def server(served_root: Path) -> Iterator[str]:
    with smnpc_server(served_root, "--timeout", str(TIMEOUT_S), "--max-result-bytes", "300000", "--workers", "2",
                      "--max-memory-mb", "1024") as url:
        yield url


def triples(server: str) -> int:
    status, _, body = get(server, COUNT)
    assert status == 200, body
    return int(json.loads(body)["results"]["bindings"][0]["n"]["value"])


UPDATES = [
    "INSERT DATA { <urn:x> <urn:y> <urn:z> }",
    "delete where { ?s ?p ?o }",
    "LOAD <file:///etc/passwd>",
    "LOAD SILENT <http://127.0.0.1:9/data.ttl> INTO GRAPH <urn:g>",
    "CLEAR ALL",
    "CLEAR DEFAULT",
    "DROP ALL",
    "CREATE GRAPH <urn:g>",
    "COPY DEFAULT TO <urn:g>",
    "PREFIX ex: <urn:ex#> # a comment\n  BASE <urn:b>\n INSERT { ?s ex:p 1 } WHERE { ?s ?p ?o }",
    "# only a comment first\nWITH <urn:g> DELETE { ?s ?p ?o } WHERE { ?s ?p ?o }",
    "SELECT * WHERE { ?s ?p ?o } ; CLEAR ALL",
]


@pytest.mark.parametrize("update", UPDATES)
def test_every_update_form_is_refused_and_changes_nothing(server: str, update: str) -> None:
    before = triples(server)
    attempts = [
        http(f"{server}/sparql?" + urllib.parse.urlencode({"query": update})),
        http(f"{server}/sparql?" + urllib.parse.urlencode({"update": update})),
        http(f"{server}/sparql", data=update.encode(), headers={"Content-Type": "application/sparql-update"}),
        http(f"{server}/sparql", data=urllib.parse.urlencode({"update": update}).encode(),
             headers={"Content-Type": "application/x-www-form-urlencoded"}),
        http(f"{server}/sparql", data=update.encode(), headers={"Content-Type": "application/sparql-query"}),
    ]
    for status, _, body in attempts:
        # 403 for a recognised update; a query that smuggles one after a ';' is not SPARQL Query: 400
        assert status in (403, 400), (update, status, body)
        assert b"Traceback" not in body
    assert triples(server) == before


@pytest.mark.parametrize("query", [
    "SELECT * WHERE { SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } }",
    "select * where { service silent <https://query.wikidata.org/sparql> { ?s ?p ?o } }",
    "SELECT * WHERE { BIND(<http://169.254.169.254/latest/meta-data/> AS ?u) SERVICE ?u { ?s ?p ?o } }",
    "SELECT * WHERE { ?s ?p ?o OPTIONAL { SeRvIcE <file:///etc/passwd> { ?a ?b ?c } } }",
])
def test_federation_to_any_address_is_refused(server: str, query: str) -> None:
    status, _, body = get(server, query)
    assert status == 403 and b"SERVICE" in body


def test_a_string_that_mentions_an_update_is_still_a_query(server: str) -> None:
    status, _, body = get(server, 'SELECT ?s WHERE { ?s ?p "INSERT DATA SERVICE CLEAR ALL" }')
    assert status == 200, body


PATHOLOGICAL = {
    "cartesian product": "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }",
    "sorted cartesian product": "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f } ORDER BY ?c ?f",
    "deep property path": "SELECT (COUNT(*) AS ?n) WHERE { ?a (!rdf:type)* ?b . ?b (^!rdf:type)+ ?c }",
    "regex over every pair of terms": ("SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?o . ?c ?d ?e "
                                       "FILTER(REGEX(CONCAT(STR(?o), STR(?e)), \"^(.*a){3}.*(b|c|d)+$\", \"i\")) }"),
}


@pytest.mark.parametrize("name", sorted(PATHOLOGICAL))
def test_pathological_query_is_cut_off_and_others_are_answered(server: str, name: str) -> None:
    outcome: dict[str, object] = {}

    def hostile() -> None:
        start = time.monotonic()
        outcome["status"], _, outcome["body"] = get(server, PATHOLOGICAL[name])
        outcome["seconds"] = time.monotonic() - start

    thread = threading.Thread(target=hostile)
    thread.start()
    time.sleep(0.5)
    # while the hostile query holds one worker, the other answers at once
    start = time.monotonic()
    status, _, _ = get(server, "ASK { ?s ?p ?o }")
    assert status == 200 and time.monotonic() - start < TIMEOUT_S
    thread.join(60)
    assert outcome["status"] == 503, outcome
    assert float(outcome["seconds"]) < TIMEOUT_S + 15  # type: ignore[arg-type]
    assert triples(server) > 0  # and afterwards the pool is whole again


def test_a_huge_regex_is_an_error_or_an_answer_never_a_crash(server: str) -> None:
    pattern = "(" + "|".join(f"w{i}x" for i in range(30000)) + "){2,50}"
    status, _, body = http(f"{server}/sparql", data=f'ASK {{ ?s ?p ?o FILTER(REGEX(STR(?o), "{pattern}")) }}'.encode(),
                           headers={"Content-Type": "application/sparql-query"})
    assert status in (200, 400, 503), (status, body[:300])
    assert triples(server) > 0


def test_a_query_answer_over_the_cap_is_refused_without_being_built(server: str) -> None:
    status, _, body = get(server, "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f }")  # 10^8 rows: refused at the cap, not after
    assert status == 413 and b"LIMIT" in body


@pytest.mark.parametrize("headers, data", [
    ({"Content-Type": "application/sparql-query", "Content-Length": "99999999999"}, b"ASK {}"),
    ({"Content-Type": "application/sparql-query", "Content-Length": "ten"}, b"ASK {}"),
])
def test_lying_content_length(server: str, headers: dict[str, str], data: bytes) -> None:
    host, port = server.removeprefix("http://").split(":")
    conn = httpclient.HTTPConnection(host, int(port), timeout=20)
    conn.putrequest("POST", "/sparql", skip_accept_encoding=True)
    for key, value in headers.items():
        conn.putheader(key, value)
    conn.endheaders()
    conn.send(data)
    response = conn.getresponse()
    assert response.status in (400, 413), response.status
    conn.close()


def test_non_utf8_and_binary_bodies_get_400(server: str) -> None:
    status, _, body = http(f"{server}/sparql", data=b"\xff\xfe\x00SELECT", headers={"Content-Type": "application/sparql-query"})
    assert status == 400 and b"UTF-8" in body
    status, _, body = http(f"{server}/recommend", data=b"\x80\x81", headers={"Content-Type": "application/json"})
    assert status == 400


@pytest.mark.parametrize("path", [
    "/../../../../etc/passwd", "/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "/static/../../pyproject.toml",
    "/examples/../../../etc/passwd", "//etc/passwd", "/..%2f..%2f..%2fetc%2fpasswd", "/sparql/../../smnpc_kg/server.py",
    "/dist/smnpc-kg.nt", "/ontology/smnpc.ttl", "/.git/config", "/%00",
])
def test_no_route_serves_a_file(server: str, path: str) -> None:
    host, port = server.removeprefix("http://").split(":")
    conn = httpclient.HTTPConnection(host, int(port), timeout=20)
    conn.request("GET", path)  # sent as written: no client-side normalisation
    response = conn.getresponse()
    body = response.read()
    conn.close()
    assert response.status in (400, 404), (path, response.status)
    assert b"root:" not in body and b"[project]" not in body and b"import " not in body and b"owl:Ontology" not in body


def test_more_hostile_queries_than_workers_get_prompt_503s(server: str) -> None:
    """Four cartesian products on two workers: every request is answered within two time limits, all with 503."""
    outcomes: list[tuple[int, float]] = []

    def hostile() -> None:
        start = time.monotonic()
        status = get(server, PATHOLOGICAL["cartesian product"])[0]
        outcomes.append((status, time.monotonic() - start))

    threads = [threading.Thread(target=hostile) for _ in range(4)]
    for t in threads:
        t.start()
        time.sleep(0.1)
    start = time.monotonic()
    status, headers, _ = get(server, "ASK { ?s ?p ?o }")  # a benign query meanwhile: an answer or "busy", never a hang
    assert status in (200, 503) and time.monotonic() - start < 2 * TIMEOUT_S + 5
    if status == 503:
        assert {k.lower(): v for k, v in headers.items()}.get("retry-after")
    for t in threads:
        t.join(60)
    assert [s for s, _ in outcomes] == [503] * 4
    assert max(seconds for _, seconds in outcomes) < 2 * TIMEOUT_S + 10
    assert triples(server) > 0
