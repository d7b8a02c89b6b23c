"""The endpoint: SPARQL 1.1 Protocol over HTTP, read-only, with limits; the page; /classify and /recommend."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from smnpc_kg.kg.build import Project
from smnpc_kg.store.embedded import OxigraphStore
from smnpc_kg.store.remote import RemoteStore
from tests.servers import smnpc_server

pytestmark = pytest.mark.integration  # every test talks to a running smnpc-kg serve

ROOT = Path(__file__).resolve().parent.parent
COUNT = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
SLOW = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"


def http(url: str, data: bytes | None = None, headers: dict[str, str] | None = None, method: str | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=60) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def get(server: str, query: str, accept: str = "application/sparql-results+json") -> tuple[int, dict[str, str], bytes]:
    return http(f"{server}/sparql?" + urllib.parse.urlencode({"query": query}), headers={"Accept": accept})


def test_get_json(server: str, store: OxigraphStore) -> None:
    status, headers, body = get(server, COUNT)
    assert status == 200 and headers["content-type"].startswith("application/sparql-results+json")
    want = store.query(COUNT).rows[0]["n"].value
    assert json.loads(body)["results"]["bindings"][0]["n"]["value"] == want


@pytest.mark.parametrize("accept,check", [
    ("application/sparql-results+xml", lambda b: b"<sparql" in b),
    ("text/csv", lambda b: b.splitlines()[0].strip() == b"n"),
    ("text/tab-separated-values", lambda b: b.splitlines()[0].strip() == b"?n"),
])
def test_content_negotiation(server: str, accept: str, check: object) -> None:
    status, headers, body = get(server, COUNT, accept)
    assert status == 200 and headers["content-type"].startswith(accept) and check(body)  # type: ignore[operator]


@pytest.mark.parametrize("accept,marker", [("text/turtle", b"@prefix"), ("application/n-triples", b"<https://w3id.org"),
                                           ("application/ld+json", b"@id")])
def test_construct_formats(server: str, accept: str, marker: bytes) -> None:
    q = "CONSTRUCT { ?s smo:sampleSize ?n } WHERE { ?s smo:referenceNumber 16 ; smo:sampleSize ?n }"
    status, headers, body = get(server, q, accept)
    assert status == 200 and headers["content-type"].startswith(accept)
    assert b"505" in body and (marker in body or (accept == "text/turtle" and b"<https://w3id.org" in body))


def test_post_form_and_direct(server: str) -> None:
    form = urllib.parse.urlencode({"query": COUNT}).encode()
    status, _, body = http(f"{server}/sparql", form, {"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/csv"})
    assert status == 200 and body.splitlines()[1].isdigit()
    status, _, body = http(f"{server}/sparql", COUNT.encode(), {"Content-Type": "application/sparql-query", "Accept": "text/csv"})
    assert status == 200 and body.splitlines()[1].isdigit()


def test_service_description_and_cors(server: str) -> None:
    status, headers, body = http(f"{server}/sparql", headers={"Origin": "http://example.org"})
    assert status == 200 and headers["content-type"].startswith("text/turtle")
    assert b"sd:SPARQL11Query" in body and b"sd:endpoint" in body
    from rdflib import Graph

    assert len(Graph().parse(data=body.decode(), format="turtle")) >= 10  # valid Turtle
    assert headers.get("access-control-allow-origin") == "*"


@pytest.mark.parametrize("how", ["update-body", "update-form", "update-in-query", "load", "clear"])
def test_updates_are_refused_with_403(server: str, how: str) -> None:
    if how == "update-body":
        status, _, body = http(f"{server}/sparql", b"INSERT DATA { <urn:a> <urn:b> <urn:c> }", {"Content-Type": "application/sparql-update"})
    elif how == "update-form":
        status, _, body = http(f"{server}/sparql", b"update=INSERT+DATA+%7B%3Curn%3Aa%3E+%3Curn%3Ab%3E+%3Curn%3Ac%3E%7D",
                               {"Content-Type": "application/x-www-form-urlencoded"})
    elif how == "update-in-query":
        status, _, body = get(server, "PREFIX ex: <urn:x#> INSERT DATA { ex:a ex:b ex:c }")
    elif how == "load":
        status, _, body = get(server, "LOAD <http://127.0.0.1:9/x.ttl>")
    else:
        status, _, body = get(server, "CLEAR ALL")
    assert status == 403 and b"read-only" in body
    status, _, body = get(server, "ASK { <urn:a> <urn:b> <urn:c> }")
    assert json.loads(body)["boolean"] is False


def test_service_is_refused(server: str) -> None:
    status, _, body = get(server, "SELECT * WHERE { SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } }")
    assert status == 403 and b"SERVICE" in body
    status, _, _ = get(server, 'SELECT * WHERE { ?s rdfs:label "SERVICE" } LIMIT 1')  # the word inside a string is fine
    assert status == 200


def test_malformed_query_gets_400_with_the_parser_message(server: str) -> None:
    status, _, body = get(server, "SELECT ?s WHERE { ?s ?p ")
    assert status == 400 and b"SPARQL syntax error" in body and b"1:" in body


def test_timeout_and_the_server_keeps_answering(server: str) -> None:
    results: dict[str, int] = {}

    def slow() -> None:
        results["slow"] = get(server, SLOW)[0]

    thread = threading.Thread(target=slow)
    started = time.monotonic()
    thread.start()
    time.sleep(0.3)
    assert get(server, COUNT)[0] == 200  # answered while the slow query runs
    thread.join(60)
    assert results["slow"] == 503 and time.monotonic() - started < 30
    assert get(server, COUNT)[0] == 200  # the killed worker was replaced


def test_result_and_body_limits(server: str) -> None:
    status, _, body = get(server, "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }", "application/n-triples")
    assert status == 413 and b"LIMIT" in body
    # an oversized body is refused from its Content-Length, before it is read
    import http.client

    host, port = server.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.putrequest("POST", "/sparql")
    conn.putheader("Content-Type", "application/sparql-query")
    conn.putheader("Content-Length", str(2**20 + 10))
    conn.endheaders()
    response = conn.getresponse()
    assert response.status == 413 and b"larger than" in response.read()
    conn.close()


def test_unsupported_format_is_406(server: str) -> None:
    status, _, _ = http(f"{server}/sparql?" + urllib.parse.urlencode({"query": COUNT, "format": "image/png"}))
    assert status == 406


def test_examples_and_page(server: str) -> None:
    status, _, body = http(f"{server}/examples")
    examples = json.loads(body)
    assert status == 200 and any(e["name"] == "table-1" for e in examples)
    status, headers, body = http(f"{server}/")
    assert status == 200 and headers["content-type"].startswith("text/html") and b"example-list" in body


def test_classify_and_recommend_routes(server: str) -> None:
    patient = (ROOT / "examples" / "patients" / "p07-single-liver-lesion.json").read_bytes()
    status, _, body = http(f"{server}/classify", patient, {"Content-Type": "application/json"})
    report = json.loads(body)
    assert status == 200 and {s["scheme"].rsplit("/", 1)[1]: s["group_label"] for s in report["schemes"]}["wu-2016"] == "M1b"
    status, _, body = http(f"{server}/recommend", patient, {"Content-Type": "application/json"})
    steps = [s["step"].rsplit("/", 1)[1] for s in json.loads(body)["steps"]]
    assert status == 200 and "local-therapy-liver-rfa" in steps
    status, _, body = http(f"{server}/classify", b'{"schema": "smnpc-kg/patient/1.0", "id": "X", "lesion_count": -1}',
                           {"Content-Type": "application/json"})
    assert status == 400 and "lesion_count" in json.loads(body)["error"]
    status, _, body = http(f"{server}/recommend", b"{not json", {"Content-Type": "application/json"})
    assert status == 400 and b"not valid JSON" in body


def test_sparqlwrapper_client_gets_the_embedded_results(server: str, store: OxigraphStore) -> None:
    remote = RemoteStore(f"{server}/sparql")
    text = (ROOT / "queries" / "table-2.rq").read_text(encoding="utf-8")
    assert [r for r in remote.query(text).rows] == [r for r in store.query(text).rows]
    assert remote.query("ASK { study:ref16 smo:sampleSize 505 }").boolean is True


def _count(server: str) -> int:
    status, _, body = get(server, COUNT)
    assert status == 200, body
    return int(json.loads(body)["results"]["bindings"][0]["n"]["value"])


def _until_answered(server: str, query: str, seconds: float = 60) -> tuple[int, bytes]:
    """The first answer that is not "busy" (a replaced worker may still be loading)."""
    deadline = time.monotonic() + seconds
    while True:
        status, headers, body = get(server, query)
        if status != 503 or "retry-after" not in {k.lower() for k in headers} or time.monotonic() > deadline:
            return status, body
        time.sleep(0.5)


def test_the_server_keeps_its_build_through_two_rebuilds(scratch_project: Project) -> None:
    """Two builds while serving prune the served folder; a worker replaced afterwards still loads the served KG."""
    root = scratch_project.root
    build = [sys.executable, "-m", "smnpc_kg.cli", "--root", str(root), "build", "--no-reason"]
    subprocess.run(build, check=True, capture_output=True)
    served = (root / "dist").resolve()
    patient = (ROOT / "examples" / "patients" / "p07-single-liver-lesion.json").read_bytes()
    with smnpc_server(root, "--timeout", "2", "--workers", "1", "--patient-workers", "1") as url:
        before = _count(url)
        for n in (1, 2):  # a changed evidence file: a new digest, so a new build folder each time
            with (root / "evidence" / "review.ttl").open("a", encoding="utf-8") as f:
                f.write(f'\nstudy:ref16 rdfs:comment "rebuilt while serving, {n}" .\n')
            subprocess.run(build, check=True, capture_output=True)
        assert (root / "dist").resolve() != served
        if served.exists():  # whatever the pruning keeps, the served folder is gone now
            shutil.rmtree(served)
        assert get(url, SLOW)[0] == 503  # the only query worker is killed and replaced
        status, body = _until_answered(url, COUNT)
        assert status == 200 and int(json.loads(body)["results"]["bindings"][0]["n"]["value"]) == before
        assert get(url, COUNT)[0] == 200
        many = json.dumps([{**json.loads(patient), "id": f"P{i}"} for i in range(1000)]).encode()
        assert http(f"{url}/recommend", many, {"Content-Type": "application/json"})[0] in (413, 503)  # kills the patient worker
        deadline = time.monotonic() + 60
        while (status := http(f"{url}/classify", patient, {"Content-Type": "application/json"})[0]) == 503:
            assert time.monotonic() < deadline
            time.sleep(0.5)
        assert status == 200


def test_patient_answers_keep_their_shapes(server: str) -> None:
    """The patient worker's refusals: a JSON 400 with the error and its details, 413 beyond 1000 patients."""
    patient = json.loads((ROOT / "examples" / "patients" / "p07-single-liver-lesion.json").read_text())
    for body in (b'{"schema": "smnpc-kg/patient/1.0", "id": "X", "months_to_progression": NaN}',
                 json.dumps([patient, patient]).encode()):  # not finite; the same id twice
        status, headers, answer = http(f"{server}/recommend", body, {"Content-Type": "application/json"})
        assert status == 400 and headers["content-type"].startswith("application/json"), (status, answer[:300])
        assert set(json.loads(answer)) == {"error", "details"}
    many = json.dumps([{**patient, "id": f"P{i}"} for i in range(1001)]).encode()
    status, _, answer = http(f"{server}/classify", many, {"Content-Type": "application/json"})
    assert status == 413 and b"1000" in answer
    status, _, answer = http(f"{server}/classify", json.dumps([patient]).encode(), {"Content-Type": "application/json"})
    assert status == 200 and isinstance(json.loads(answer), list)
