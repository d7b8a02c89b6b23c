"""Hostile input at the endpoint: refused with the right status, nothing changed, the server keeps answering."""

from __future__ import annotations

import http.client as httpclient
import json
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.servers import Listener, listener, smnpc_server
from tests.test_server import COUNT, get, http

pytestmark = pytest.mark.integration  # hostile requests against a running smnpc-kg serve

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
    # hidden: a comment ended by a carriage return, an escaped keyword, a byte-order mark, a zero-width space,
    # a second operation after ';' (each is an update, or becomes one without the invisible character)
    "#x\rINSERT DATA { <urn:x> <urn:y> <urn:z> }",
    "\\u0049NSERT DATA { <urn:x> <urn:y> <urn:z> }",
    "\ufeffINSERT DATA { <urn:x> <urn:y> <urn:z> }",
    "\u200bDELETE WHERE { ?s ?p ?o }",
    "ASK {} ;\r\n DROP ALL",
    "PREFIX ex: <urn:ex#> SELECT * WHERE { ?s ?p ?o } ; INSERT DATA { ex:a ex:b ex:c }",
    "# a comment\r\\u0049NSERT DATA { <urn:x> <urn:y> <urn:z> }",
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
        assert status == 403 and b"read-only" in body, (update, status, body)
    assert triples(server) == before


# ------------------------------------------------------------------ SERVICE: no request leaves the endpoint
@pytest.fixture(scope="module")
def target() -> Iterator[Listener]:
    """A listener on 127.0.0.1 standing in for any address a SERVICE clause might name."""
    with listener() as server:
        yield server


#: Each is a query that calls SERVICE by the SPARQL grammar ({url} is the listener), hidden as a hostile tester did.
SERVICE_QUERIES = {
    "plain": "SELECT * WHERE { SERVICE <{url}> { ?s ?p ?o } }",
    "comment ended by CR": "SELECT * WHERE { #x\rSERVICE <{url}> { ?s ?p ?o } }",
    "comment ended by CRLF": "SELECT * WHERE { # x\r\nSERVICE <{url}> { ?s ?p ?o } }",
    "NBSP in an IRI before it": "SELECT * WHERE { ?s <urn:a\u00a0#> ?o . SERVICE <{url}> { ?s ?p ?o } }",
    "LS in an IRI before it": "SELECT * WHERE { ?s <urn:a\u2028#> ?o .\nSERVICE <{url}> { ?s ?p ?o } }",
    "NBSP in its IRI": "SELECT * WHERE { SERVICE <{url}\u00a0x> { ?s ?p ?o } }",
    "LS in its IRI": "SELECT * WHERE { SERVICE <{url}\u2028x> { ?s ?p ?o } }",
    "a variable": "SELECT * WHERE { BIND(<{url}> AS ?u) SERVICE ?u { ?s ?p ?o } }",
    "VALUES and a variable": "SELECT * WHERE { VALUES ?u { <{url}> } SERVICE ?u { ?s ?p ?o } }",
    "SILENT": "SELECT * WHERE { SERVICE SILENT <{url}> { ?s ?p ?o } }",
    "lower case": "select * where { service silent <{url}> { ?s ?p ?o } }",
    "mixed case": "SELECT * WHERE { ?s ?p ?o OPTIONAL { SeRvIcE <{url}> { ?a ?b ?c } } }",
    "escaped keyword": "SELECT * WHERE { \\u0053ERVICE <{url}> { ?s ?p ?o } }",
    "escaped keyword, 8 digits": "SELECT * WHERE { \\U00000053\\u0045RVICE <{url}> { ?s ?p ?o } }",
    "escaped newline ends a comment": "SELECT * WHERE { #x\\u000A0020 <urn:p> ?o . SERVICE <{url}> { ?s ?p ?o }\n}",
    "escaped CR ends a comment": "SELECT * WHERE { #x\\u000dSERVICE <{url}> { ?s ?p ?o }\n}",
    "escaped IRI": "SELECT * WHERE { SERVICE <\\u0068ttp://127.0.0.1:{port}/sparql> { ?s ?p ?o } }",
    "nested groups": "SELECT * WHERE { { { { SERVICE <{url}> { ?s ?p ?o } } } } }",
    "OPTIONAL": "SELECT * WHERE { ?s ?p ?o OPTIONAL { SERVICE <{url}> { ?a ?b ?c } } }",
    "UNION": "SELECT * WHERE { { ?s ?p ?o } UNION { SERVICE <{url}> { ?s ?p ?o } } }",
    "MINUS": "SELECT * WHERE { ?s ?p ?o MINUS { SERVICE <{url}> { ?s ?p ?o } } }",
    "GRAPH": "SELECT * WHERE { GRAPH ?g { SERVICE <{url}> { ?s ?p ?o } } }",
    "sub-query": "SELECT * WHERE { { SELECT ?s WHERE { SERVICE <{url}> { ?s ?p ?o } } LIMIT 1 } }",
    "FILTER EXISTS": "SELECT * WHERE { ?s ?p ?o FILTER EXISTS { SERVICE <{url}> { ?s ?p ?o } } }",
    "FILTER NOT EXISTS": "ASK { FILTER NOT EXISTS { SERVICE SILENT <{url}> {} } }",
    "BIND EXISTS": "SELECT * WHERE { BIND(EXISTS { SERVICE <{url}> {} } AS ?x) }",
    "CONSTRUCT": "CONSTRUCT { ?s ?p ?o } WHERE { SERVICE <{url}> { ?s ?p ?o } }",
    "DESCRIBE": "DESCRIBE ?s WHERE { SERVICE <{url}> { ?s ?p ?o } }",
    "inside a service": "SELECT * WHERE { SERVICE <urn:x> { SERVICE <{url}> { ?s ?p ?o } } }",
}


def _send(server: str, query: str, how: str) -> tuple[int, bytes]:
    if how == "get":
        status, _, body = get(server, query)
    elif how == "form":
        status, _, body = http(f"{server}/sparql", data=urllib.parse.urlencode({"query": query}).encode(),
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
    else:
        status, _, body = http(f"{server}/sparql", data=query.encode(), headers={"Content-Type": "application/sparql-query"})
    return status, body


@pytest.mark.parametrize("how", ["get", "form", "direct"])
@pytest.mark.parametrize("name", sorted(SERVICE_QUERIES))
def test_no_service_request_leaves_the_endpoint(server: str, target: Listener, name: str, how: str) -> None:
    query = SERVICE_QUERIES[name].replace("{url}", target.url).replace("{port}", str(target.port))
    before = target.connections
    status, body = _send(server, query, how)
    time.sleep(0.05)
    assert target.connections == before, f"{name}: the endpoint connected to the listener"
    # SERVICE by the grammar: 403. rdflib 7's parser wrongly refuses a SERVICE after an IRI with '#' on the same
    # line, and nested SERVICE (RDFLib/rdflib#3082, slowly): 400, or 503 at the time limit; still nothing is sent.
    expected = (400, 403) if "IRI before it" in name else (400, 403, 503) if "inside a service" in name else (403,)
    assert status in expected, (name, status, body)
    if status == 403:
        assert b"SERVICE" in body


_KEYWORD_FORMS = st.sampled_from(["SERVICE", "service", "Service", "sErViCe"])
_SEPARATORS = st.sampled_from([" ", "\t", "\n", "\r", "\r\n", "  \t ", "#c\r", "#c\n", "#c\r\n", "# SERVICE {\r",
                               "#\\u000A", "#\\u000D", "\\u0020", "\\u0009"])
_WRAPPERS = st.sampled_from(["{ %s }", "OPTIONAL { %s }", "{ %s } UNION { }", "{ } UNION { %s }", "MINUS { %s }",
                             "GRAPH ?g { %s }", "FILTER EXISTS { %s }", "FILTER NOT EXISTS { %s }",
                             "{ SELECT * WHERE { %s } }", "BIND(EXISTS { %s } AS ?e)", "?s ?p ?o . %s", "%s ?s ?p ?o ."])


@st.composite
def service_variants(draw: st.DrawFn) -> str:
    """A query that calls SERVICE by the grammar: keyword case and escapes, separators of every kind, nesting."""
    keyword = "".join(f"\\u{ord(c):04X}" if draw(st.booleans()) and draw(st.booleans()) else c for c in draw(_KEYWORD_FORMS))
    sep = draw(_SEPARATORS)
    silent = draw(st.sampled_from(["", "SILENT" + draw(_SEPARATORS), "silent" + draw(_SEPARATORS)]))
    where = draw(st.sampled_from(["<{url}>", "?u"]))
    pattern = f"{keyword}{sep}{silent}{where}{draw(_SEPARATORS)}{{ ?a ?b ?c }}"
    for wrapper in draw(st.lists(_WRAPPERS, max_size=4)):
        pattern = wrapper % pattern
    bind = "VALUES ?u { <{url}> }" + draw(_SEPARATORS) if where == "?u" else ""
    return f"SELECT * WHERE {{{draw(_SEPARATORS)}{bind}{pattern}{draw(_SEPARATORS)}}}"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(query=service_variants(), how=st.sampled_from(["get", "form", "direct"]))
def test_generated_service_variants_are_refused_and_send_nothing(server: str, target: Listener, query: str, how: str) -> None:
    before = target.connections
    status, body = _send(server, query.replace("{url}", target.url), how)
    assert status == 403 and b"SERVICE" in body, (query, status, body)
    assert target.connections == before


def test_a_worker_cannot_reach_the_network(target: Listener) -> None:
    """The defence behind the parser: a query worker lives in an empty network namespace."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_connect_after_isolation, args=(child, target.port))
    proc.start()
    child.close()
    assert parent.poll(60)
    isolation, outcome = parent.recv()
    proc.join(10)
    assert isolation == "", isolation
    assert outcome.startswith("refused"), outcome
    assert target.connections == 0


def _children(pid: int) -> list[int]:
    """The child processes of ``pid``, whichever of its threads started them."""
    return [int(c) for task in Path(f"/proc/{pid}/task").iterdir() for c in (task / "children").read_text().split()]


def test_the_served_workers_are_offline(server: str) -> None:
    """Every worker of the running server (query and patient) is in a network namespace of its own."""
    port = server.rsplit(":", 1)[1]
    serving = [int(d.name) for d in Path("/proc").iterdir()
               if d.name.isdigit() and f" serve --port {port} " in _cmdline(d) + " "]
    assert len(serving) == 1, serving
    ours = Path("/proc/self/ns/net").readlink()
    deadline = time.monotonic() + 60  # workers stopped by earlier tests may still be being replaced
    while True:
        workers = [c for c in _children(serving[0]) if "spawn_main" in _cmdline(Path(f"/proc/{c}"))]
        if len(workers) == 4 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert len(workers) == 4, workers  # two query workers and two patient workers
    assert all(Path(f"/proc/{c}/ns/net").readlink() != ours for c in workers)


def _cmdline(proc: Path) -> str:
    try:
        return (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def _connect_after_isolation(conn: object, port: int) -> None:  # runs in a child process
    from smnpc_kg.web.server import isolate_network

    isolation = isolate_network()
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        outcome = "connected"
    except OSError as exc:
        outcome = f"refused: {exc}"
    conn.send((isolation, outcome))  # type: ignore[attr-defined]


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


# ------------------------------------------------------------------ nesting, sizes, formats
DEEP = {
    "groups": "ASK " + "{ " * 10_000 + "}" * 10_000,
    "expressions": "ASK { FILTER(" + "(" * 10_000 + "1" + ")" * 10_000 + ") }",
    "paths": "ASK { ?s " + "(" * 10_000 + "<urn:p>" + ")" * 10_000 + " ?o }",
    "sub-queries": "ASK { " + "{ SELECT * WHERE " * 3_000 + "{}" + " }" * 3_000 + " }",
    "EXISTS": "ASK { " + "FILTER EXISTS { " * 2_000 + "}" * 2_000 + " }",
}


@pytest.mark.parametrize("name", sorted(DEEP))
def test_deep_nesting_is_a_400_and_the_workers_survive(server: str, name: str) -> None:
    status, body = _send(server, DEEP[name], "direct")
    assert status == 400 and b"nests deeper than 64 levels" in body, (status, body[:300])
    assert triples(server) > 0


def test_nesting_within_the_bound_is_answered(server: str) -> None:
    for query in ("ASK " + "{ " * 60 + "}" * 60, "ASK { FILTER(" + "(" * 60 + "true" + ")" * 60 + ") }",
                  "ASK { " + "OPTIONAL { " * 30 + "}" * 30 + " }"):
        status, body = _send(server, query, "direct")
        assert status == 200 and b"true" in body, (status, body[:300])


LIMIT = 2**20  # the endpoint's default --max-request-bytes


def test_a_get_query_over_the_limit_is_the_endpoints_own_413(server: str) -> None:
    padding = "x" * (LIMIT + 10)  # percent-encoding does not change it: within what the HTTP layer reads
    status, _, body = get(server, f"ASK {{}} #{padding}")
    assert status == 413 and b"larger than" in body, (status, body[:200])
    status, _, body = get(server, f"ASK {{}} #{'é' * (LIMIT // 2 + 10)}")  # 3 MiB once percent-encoded
    assert status == 413 and b"larger than" in body, (status, body[:200])


def test_a_request_head_larger_than_any_query_is_413_not_a_bare_400(server: str) -> None:
    status, _, body = http(f"{server}/sparql?query=" + "%C3%A9" * LIMIT)
    assert status == 413 and b"larger than" in body, (status, body[:200])
    too_many = b"GET /sparql?query=ASK%7B%7D HTTP/1.1\r\nHost: x\r\n" + b"a: b\r\n" * 300 + b"\r\n"
    assert _raw_status(server, too_many) == 431
    enough = b"GET /sparql?query=ASK%7B%7D HTTP/1.1\r\nHost: x\r\n" + b"a: b\r\n" * 150 + b"\r\n"
    assert _raw_status(server, enough) == 200


def test_the_limit_is_on_the_decoded_query(server: str) -> None:
    """A query of 1 MiB less one byte is accepted as a GET and as a form, though its percent-encoding is 3 MiB."""
    head = "ASK {} #"
    query = head + "é" * ((LIMIT - 1 - len(head)) // 2)
    query += "x" * (LIMIT - 1 - len(query.encode()))
    assert len(query.encode()) == LIMIT - 1
    status, _, body = http(f"{server}/sparql", data=urllib.parse.urlencode({"query": query}).encode(),
                           headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/sparql-results+json"})
    assert status == 200 and json.loads(body)["boolean"] is True, (status, body[:200])
    status, _, body = get(server, query)
    assert status == 200 and json.loads(body)["boolean"] is True, (status, body[:200])
    status, _, body = http(f"{server}/sparql", data=urllib.parse.urlencode({"query": query + "xx"}).encode(),
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 413, (status, body[:200])


def test_a_406_names_the_formats_and_does_not_echo_the_request(server: str) -> None:
    status, _, body = http(f"{server}/sparql?" + urllib.parse.urlencode({"query": COUNT, "format": "<script>alert(1)</script>"}))
    assert status == 406 and b"script" not in body and b"json" in body and b"turtle" in body


# ------------------------------------------------------------------ slow senders
def _slow_head(host: str, port: int, stop: threading.Event) -> float:
    """Send a request head one byte at a time; the seconds until the server answered (408) or closed the connection."""
    start = time.monotonic()
    with socket.create_connection((host, port), timeout=30) as sock:
        sock.setblocking(False)
        for byte in b"GET /sparql?query=ASK%7B%7D HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 1000:
            if stop.is_set():
                break
            try:
                sock.recv(1024)  # an answer, or the end of the connection: dropped
                break
            except BlockingIOError:
                pass
            except OSError:
                break
            try:
                sock.sendall(bytes([byte]))
                time.sleep(0.25)
            except OSError:
                break
        else:
            return float("inf")
        return time.monotonic() - start


def _slow_body(host: str, port: int, stop: threading.Event) -> float:
    """Send a complete head, then the body one byte at a time; the seconds until the server answered or closed."""
    start = time.monotonic()
    with socket.create_connection((host, port), timeout=30) as sock:
        sock.sendall(b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: application/sparql-query\r\n"
                     b"Content-Length: 1000\r\n\r\n")
        sock.setblocking(False)
        for _ in range(1000):
            if stop.is_set():
                break
            try:
                if sock.recv(1024) == b"":
                    break
                return time.monotonic() - start  # an answer (the 408)
            except BlockingIOError:
                pass
            except OSError:
                break
            try:
                sock.sendall(b" ")
            except OSError:
                break
            time.sleep(0.25)
        else:
            return float("inf")
        return time.monotonic() - start


def test_slow_senders_are_dropped_within_the_limit_and_others_are_answered(server: str) -> None:
    host, port = server.removeprefix("http://").split(":")
    stop = threading.Event()
    seconds: list[float] = []

    def run(fn: Callable[[str, int, threading.Event], float]) -> None:
        seconds.append(fn(host, int(port), stop))

    threads = [threading.Thread(target=run, args=(fn,)) for fn in [_slow_head] * 50 + [_slow_body] * 50]
    for t in threads:
        t.start()
    try:
        time.sleep(1.0)
        start = time.monotonic()
        status, _, _ = get(server, "ASK {}")
        assert status == 200 and time.monotonic() - start < 1.0
        deadline = time.monotonic() + TIMEOUT_S + 5
        while any(t.is_alive() for t in threads) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        stop.set()  # a sender the server still holds gives up now, and counts as held too long
        for t in threads:
            t.join(30)
    assert len(seconds) == 100
    assert max(seconds) < TIMEOUT_S + 3, sorted(seconds)[-5:]


def test_a_body_that_does_not_arrive_in_time_is_408(server: str) -> None:
    host, port = server.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(b"POST /recommend HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
        start = time.monotonic()
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 408") and time.monotonic() - start < TIMEOUT_S + 2, answer


# ------------------------------------------------------------------ a light query stays fast while hostile requests run
ROOT = Path(__file__).resolve().parent.parent
P07 = json.loads((ROOT / "examples" / "patients" / "p07-single-liver-lesion.json").read_text())


def _many_sites() -> bytes:
    return json.dumps({"schema": "smnpc-kg/patient/1.0", "id": "X",
                       "metastatic_sites": [{"site": i} for i in range(3000)]}).encode()


def _labelled_patients() -> bytes:
    return json.dumps([{**P07, "id": f"P{i}", "label": f"labelled patient number {i}"} for i in range(1000)]).encode()


def _post(server: str, path: str, data: bytes, ctype: str) -> Callable[[], int]:
    return lambda: http(f"{server}{path}", data=data, headers={"Content-Type": ctype})[0]


def _raw_status(server: str, data: bytes) -> int:
    """The status of the answer to ``data`` sent as it is on a fresh connection."""
    host, port = server.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(data)
        return int(sock.recv(4096).split(b" ", 2)[1])


def _slow_sender(server: str) -> Callable[[], int]:
    host, port = server.removeprefix("http://").split(":")
    return lambda: int(_slow_body(host, int(port), threading.Event()) < 60)


FREEZERS: dict[str, Callable[[str], list[Callable[[], int]]]] = {
    "ASK { and 32,000 \"\\": lambda s: [_post(s, "/sparql", ('ASK {' + '"\\' * 32_000).encode(), "application/sparql-query")],
    "the same as a GET": lambda s: [lambda: get(s, 'ASK {' + '"\\' * 32_000)[0]],
    "the 64 KB variant": lambda s: [_post(s, "/sparql", ('ASK {' + '"\\' * 32_768).encode(), "application/sparql-query")],
    "3,000 distinct metastatic sites": lambda s: [_post(s, "/classify", _many_sites(), "application/json")],
    "1,000 labelled patients": lambda s: [_post(s, "/recommend", _labelled_patients(), "application/json")],
    "three of them at once": lambda s: [_post(s, "/recommend", _labelled_patients(), "application/json") for _ in range(3)],
    "a 10,000-deep query": lambda s: [_post(s, "/sparql", DEEP["groups"].encode(), "application/sparql-query")],
    "a slow sender": lambda s: [_slow_sender(s)],
    # percent-decoding megabytes takes Python about a second: not on the event loop
    "a form of 3 MiB of %": lambda s: [_post(s, "/sparql", b"query=" + b"%" * (3 * 2**20), "application/x-www-form-urlencoded")],
    "a GET of 3 MiB of escapes": lambda s: [lambda: http(f"{s}/sparql?query=" + "%C3%A9" * 2**19)[0]],
    "an Accept header of 10^6 types": lambda s: [lambda: http(f"{s}/sparql?query=ASK%7B%7D",
                                                             headers={"Accept": "x/y," * 10**6 + "text/csv"})[0]],
    "500,000 header fields": lambda s: [lambda: _raw_status(s, b"GET /sparql?query=ASK%7B%7D HTTP/1.1\r\nHost: x\r\n"
                                                               + b"a: b\r\n" * 500_000 + b"\r\n")],
    "a path of 3 MiB of %": lambda s: [lambda: _raw_status(s, b"GET /" + b"%" * (3 * 2**20) + b" HTTP/1.1\r\nHost: x\r\n\r\n")],
}


@pytest.mark.parametrize("name", list(FREEZERS))
def test_a_light_query_answers_within_a_second_while_hostile_requests_run(server: str, name: str) -> None:
    statuses: list[int] = []
    threads = [threading.Thread(target=lambda fn=fn: statuses.append(fn())) for fn in FREEZERS[name](server)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    for _ in range(3):
        start = time.monotonic()
        status, _, body = get(server, "ASK { ?s smo:referenceNumber 16 }")
        assert status == 200 and json.loads(body)["boolean"] is True
        assert time.monotonic() - start < 1.0, f"a light query took {time.monotonic() - start:.2f} s during {name}"
        time.sleep(0.2)
    for t in threads:
        t.join(60)
    assert len(statuses) == len(threads) and all(s in (1, 200, 400, 413, 414, 431, 503) for s in statuses), statuses
