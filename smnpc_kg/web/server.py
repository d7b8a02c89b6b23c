"""The SPARQL 1.1 Protocol endpoint (read-only), its query page, and /classify and /recommend."""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from multiprocessing.connection import Connection
from pathlib import Path
from typing import IO, Any, cast

from smnpc_kg.core.namespaces import PREFIXES

RESULT_TYPES = {
    "application/sparql-results+json": "JSON", "application/json": "JSON",
    "application/sparql-results+xml": "XML", "application/xml": "XML",
    "text/csv": "CSV", "text/tab-separated-values": "TSV",
}
GRAPH_TYPES = {"text/turtle": "TURTLE", "application/n-triples": "N_TRIPLES", "application/ld+json": "JSON_LD",
               "application/rdf+xml": "RDF_XML"}
SHORT = {"json": "application/sparql-results+json", "xml": "application/sparql-results+xml", "csv": "text/csv",
         "tsv": "text/tab-separated-values", "turtle": "text/turtle", "ttl": "text/turtle", "nt": "application/n-triples",
         "jsonld": "application/ld+json", "rdfxml": "application/rdf+xml"}
FORM_FIELDS = 100  # fields in a query string or a form: more is not a SPARQL request
MAX_HEAD_LINES = 200  # lines in a request head (the request line and the header fields)
MAX_PATH = 8192  # bytes of a request's path (before any '?'): every route's is short
HEAD_SLACK = 64 * 2**10  # what a request head holds besides the percent-encoded query (path, other fields, headers)
MAX_PATIENTS = 1000


class Reply(StrEnum):
    """What a worker answers (and what the pool says for it): the closed set the routes turn into HTTP statuses."""

    READY = "ready"
    FAILED = "failed"
    OK = "ok"
    REFUSED = "refused"  # the parse refused the query: its own status (400 or 403) travels with it
    SYNTAX = "syntax"
    INVALID = "invalid"
    TOO_MANY = "too-many"
    TOO_LARGE = "too-large"
    MEMORY = "memory"
    TIMEOUT = "timeout"
    BUSY = "busy"
    ERROR = "error"


#: The HTTP status and the message of each refusal, per route; BUSY also carries Retry-After (the only retryable one).
QUERY_ANSWERS: dict[Reply, tuple[int, str]] = {
    Reply.SYNTAX: (400, "SPARQL syntax error: {}"), Reply.TOO_LARGE: (413, "{}"), Reply.BUSY: (503, "{}"),
    Reply.TIMEOUT: (503, "{}"), Reply.MEMORY: (503, "{}"), Reply.ERROR: (400, "the query failed: {}"),
}
PATIENT_ANSWERS: dict[Reply, tuple[int, str]] = {
    Reply.TOO_MANY: (413, "{}"), Reply.TOO_LARGE: (413, "{}"), Reply.BUSY: (503, "{}"), Reply.TIMEOUT: (503, "{}"),
    Reply.MEMORY: (503, "{}"), Reply.ERROR: (500, "internal error while answering /{kind}: {}"),
}


@dataclass
class Limits:
    """What the endpoint allows: the defaults are safe for a public machine."""

    timeout_s: float = 10.0  # a query, a patient request, a request head and a request body each get this long
    max_result_bytes: int = 10 * 2**20
    max_request_bytes: int = 2**20  # the query text (decoded) and a JSON body
    workers: int = 2
    allow_federation: bool = False
    max_memory_mb: int = 2048
    patient_workers: int = 2

    @property
    def max_head_bytes(self) -> int:
        """A GET's request line and headers: room for a query of max_request_bytes, percent-encoded (3 bytes each)."""
        return 3 * self.max_request_bytes + HEAD_SLACK

    @property
    def max_form_bytes(self) -> int:
        return 3 * self.max_request_bytes + HEAD_SLACK


class Refused(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


# ------------------------------------------------------------------ worker processes: killable, capped, offline
_CLONE_NEWNET = 0x40000000
_CLONE_NEWUSER = 0x10000000


def isolate_network() -> str:
    """Move this process into a new network namespace with no interface up; '' when done, else why not.

    Call it while the process has one thread: the namespace is the calling thread's and is inherited by the
    threads and processes started afterwards. Connections already open (a worker's pipe) keep working.
    """
    import ctypes
    import os

    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError as exc:
        return f"no C library to call unshare ({exc})"
    failures = []
    for flags in (_CLONE_NEWNET, _CLONE_NEWUSER | _CLONE_NEWNET):
        if libc.unshare(flags) == 0:
            return ""
        failures.append(os.strerror(ctypes.get_errno()))
    return f"cannot enter an empty network namespace ({'; '.join(failures)})"


class _TooLarge(Exception):
    pass


class _Capped:
    """A write target that stops the serialisation as soon as the answer passes the size limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.size += len(data)
        if self.size > self.limit:
            raise _TooLarge()
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass


def _cap_memory(max_memory_mb: int) -> None:
    import resource

    if max_memory_mb:  # a request that needs more (a huge sort, a cartesian product) ends this worker, not the machine
        cap = max_memory_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


def _query_worker(conn: Connection, max_memory_mb: int, allow_federation: bool) -> None:  # pragma: no cover - a child
    """Parse (rdflib), decide, and run (pyoxigraph) one query at a time; the KG arrives as N-Triples bytes."""
    isolation = "" if allow_federation else isolate_network()  # first: before any thread exists
    from urllib.parse import unquote_plus

    import pyoxigraph as ox

    from smnpc_kg.web.operation import Decisions

    data = conn.recv_bytes()
    store = ox.Store()
    try:
        store.bulk_load(data, format=ox.RdfFormat.N_TRIPLES)
    except (SyntaxError, ValueError, OSError) as exc:
        conn.send((Reply.FAILED, f"cannot load the KG: {exc}"))
        return
    del data
    decisions = Decisions(allow_federation)
    decisions.get("ASK {}")  # the parser is built before the first request, not during it
    _cap_memory(max_memory_mb)
    conn.send((Reply.READY, isolation))
    while True:
        try:
            query, encoded, media, limit, max_query = conn.recv()
        except EOFError:
            return
        try:
            if encoded:  # a GET's or a form's value: percent-decoding megabytes is slow, so it is done here
                query = unquote_plus(query)
            if len(query) > max_query or len(query.encode("utf-8", "surrogatepass")) > max_query:
                conn.send((Reply.TOO_LARGE, f"the query is larger than {max_query} bytes"))
                continue
            decision = decisions.get(query)  # the parse runs here: under the time limit and the memory cap
            if not decision.runs:
                conn.send((Reply.REFUSED, (decision.status, decision.message)))
                continue
            answer = store.query(decision.text, prefixes=PREFIXES, use_default_graph_as_union=True)
            out = _Capped(limit)
            if isinstance(answer, ox.QueryTriples):
                media = media if media in GRAPH_TYPES else "text/turtle"
                answer.serialize(cast(IO[bytes], out), format=getattr(ox.RdfFormat, GRAPH_TYPES[media]))
            elif isinstance(answer, ox.QueryBoolean):
                media = media if media in RESULT_TYPES else "application/sparql-results+json"
                out.write(answer.serialize(format=getattr(ox.QueryResultsFormat, RESULT_TYPES[media])) or b"")
            else:
                media = media if media in RESULT_TYPES else "application/sparql-results+json"
                answer.serialize(cast(IO[bytes], out), format=getattr(ox.QueryResultsFormat, RESULT_TYPES[media]))
            conn.send((Reply.OK, (media, b"".join(out.parts))))
        except _TooLarge:
            conn.send((Reply.TOO_LARGE, f"the result is larger than {limit} bytes; add a LIMIT or a narrower pattern"))
        except SyntaxError as exc:
            conn.send((Reply.SYNTAX, str(exc)))
        except MemoryError:
            conn.send((Reply.MEMORY, f"the query needed more than {max_memory_mb} MB and was stopped"))
            return  # the worker may be in a bad state: the pool replaces it
        except Exception as exc:  # the query failed while running (for example a type error)
            conn.send((Reply.ERROR, f"{type(exc).__name__}: {exc}"))


def _patient_worker(conn: Connection, max_memory_mb: int) -> None:  # pragma: no cover - runs in a child process
    """Read, check, classify or walk, and serialise the patients of one request body at a time."""
    isolation = isolate_network()  # it never needs the network
    import pyoxigraph as ox
    from rdflib import Graph

    from smnpc_kg.clinical.classify import Classifier, Definitions, report_json
    from smnpc_kg.clinical.pathway import Pathway, as_json
    from smnpc_kg.clinical.patient import TooManyPatients, parse_patients
    from smnpc_kg.core.errors import SmnpcError
    from smnpc_kg.store.embedded import OxigraphStore

    data, ontology = conn.recv_bytes(), conn.recv_bytes()
    try:
        store = ox.Store()
        store.bulk_load(data, format=ox.RdfFormat.N_TRIPLES)
        kg = OxigraphStore(store)
        definitions = Definitions(Graph().parse(data=ontology.decode("utf-8"), format="turtle"))
        classifier, pathway = Classifier(definitions, kg), Pathway(kg, definitions)
    except (SmnpcError, SyntaxError, ValueError, OSError) as exc:
        conn.send((Reply.FAILED, f"cannot load the KG and the ontology: {exc}"))
        return
    del data, ontology
    _cap_memory(max_memory_mb)
    conn.send((Reply.READY, isolation))
    while True:
        try:
            kind, text, limit = conn.recv()
        except EOFError:
            return
        try:
            patients, is_list = parse_patients(text, "request body", MAX_PATIENTS)
            parts, size = [], 2
            for p in patients:
                item = report_json(classifier.report(p)) if kind == "classify" else as_json(pathway.walk(p), pathway)
                part = json.dumps(item, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")
                size += len(part) + 1
                if size > limit:
                    raise _TooLarge()
                parts.append(part)
            conn.send((Reply.OK, b"[" + b",".join(parts) + b"]" if is_list else parts[0]))
        except TooManyPatients as exc:
            conn.send((Reply.TOO_MANY, str(exc)))
        except SmnpcError as exc:
            conn.send((Reply.INVALID, {"error": str(exc), "details": list(getattr(exc, "details", []))}))
        except _TooLarge:
            conn.send((Reply.TOO_LARGE, f"the answer is larger than {limit} bytes; send fewer patients at a time"))
        except MemoryError:
            conn.send((Reply.MEMORY, f"the request needed more than {max_memory_mb} MB and was stopped"))
            return
        except Exception as exc:  # a defect, not the input's fault: a one-line 500, never a traceback
            conn.send((Reply.ERROR, f"{type(exc).__name__}: {exc}"))


@dataclass
class _Worker:
    proc: Any
    conn: Connection


@dataclass
class WorkerPool:
    """Worker processes that each hold the KG; one that runs too long, or dies, is replaced, never reused.

    Every worker gets the same bytes (``payload``, sent through its pipe), so a replacement loads the very
    build the server started with, whatever happened to the files since.
    """

    name: str  # "query" or "patient", for messages
    target: Callable[..., None]
    args: tuple[Any, ...]
    payload: tuple[bytes, ...]
    size: int
    max_memory_mb: int
    ctx: Any = field(default_factory=lambda: mp.get_context("spawn"))
    idle: asyncio.Queue[_Worker] = field(default_factory=asyncio.Queue)
    procs: set[Any] = field(default_factory=set)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    stopped: bool = False
    warned: bool = False

    def _spawn(self) -> _Worker:
        from smnpc_kg.core.errors import DistError

        parent, child = self.ctx.Pipe()
        proc = self.ctx.Process(target=self.target, args=(child, *self.args), daemon=True)
        proc.start()
        child.close()
        self.procs.add(proc)
        try:
            for blob in self.payload:
                parent.send_bytes(blob)
            status, detail = parent.recv() if parent.poll(300) else (Reply.FAILED, "it did not load the KG within 300 s")
        except (EOFError, OSError):
            status, detail = Reply.FAILED, f"it exited with code {proc.exitcode} while loading the KG"
        if status != Reply.READY:
            self._end(_Worker(proc, parent))
            raise DistError(f"a {self.name} worker could not start: {detail}")
        if detail and not self.warned:  # once per pool: the parser's decision is then the only guard
            self.warned = True
            print(f"smnpc-kg serve: {self.name} workers run without network isolation: {detail}", file=sys.stderr, flush=True)
        return _Worker(proc, parent)

    def _end(self, worker: _Worker) -> None:
        worker.proc.kill()
        worker.proc.join()
        worker.conn.close()
        self.procs.discard(worker.proc)

    def start(self) -> None:
        """Start ``size`` workers (in parallel) and wait until each has loaded the KG; an error is one DistError."""
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=max(1, self.size)) as spawning:
            started = [spawning.submit(self._spawn) for _ in range(self.size)]
        try:
            for future in started:
                self.idle.put_nowait(future.result())
        except Exception:
            self.stop()
            raise

    def _retire(self, worker: _Worker) -> None:
        task = asyncio.get_running_loop().create_task(self._replace(worker))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _replace(self, worker: _Worker) -> None:
        await asyncio.to_thread(self._end, worker)
        delay = 1.0
        while not self.stopped:
            try:
                new = await asyncio.to_thread(self._spawn)
            except Exception as exc:  # keep trying: meanwhile requests hear that the server is busy
                print(f"smnpc-kg serve: {exc}; trying again in {delay:g} s", file=sys.stderr, flush=True)
                await asyncio.sleep(delay)
                delay = min(2 * delay, 30.0)
                continue
            if self.stopped:
                await asyncio.to_thread(self._end, new)
            else:
                self.idle.put_nowait(new)
            return

    async def run(self, request: tuple[Any, ...], timeout_s: float, what: str) -> tuple[Reply, Any]:
        """Hand ``request`` to an idle worker and wait for its answer, at most ``timeout_s`` for each."""
        try:  # a request waits for a free worker at most as long as it may run, then hears that the server is busy
            async with asyncio.timeout(timeout_s):
                worker = await self.idle.get()
        except TimeoutError:
            return Reply.BUSY, f"every {self.name} worker stayed busy for {timeout_s:g} s; try again shortly"
        healthy = False
        try:
            worker.conn.send(request)
            if not await _readable(worker.conn, timeout_s):
                return Reply.TIMEOUT, f"the {what} ran longer than {timeout_s:g} s and was stopped"
            result: tuple[Reply, Any] = worker.conn.recv()
            healthy = result[0] != Reply.MEMORY
            return result
        except (EOFError, OSError):  # the worker died under the request (out of memory, or killed)
            return Reply.MEMORY, f"the {what} stopped its worker (more than {self.max_memory_mb} MB?) and was abandoned"
        finally:
            if healthy and worker.proc.is_alive():
                self.idle.put_nowait(worker)
            else:
                self._retire(worker)

    def stop(self) -> None:
        self.stopped = True
        for proc in list(self.procs):
            proc.kill()
            proc.join()
        self.procs.clear()


async def _readable(conn: Connection, timeout_s: float) -> bool:
    """Whether ``conn`` has something to read (an answer, or the end of a dead worker) within ``timeout_s``."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()
    fd = conn.fileno()

    def readable() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(fd, readable)
    try:
        async with asyncio.timeout(timeout_s):
            await ready
        return True
    except TimeoutError:
        return False
    finally:
        loop.remove_reader(fd)


# ------------------------------------------------------------------ the protocol's small decisions (on the event loop)
def negotiate(accept: str, fmt: str | None) -> str:
    """The media type to answer with: ?format= wins, then the Accept header's first type we serve."""
    if fmt:
        media = SHORT.get(fmt.lower(), fmt.lower())
        if media not in RESULT_TYPES and media not in GRAPH_TYPES:
            raise Refused(406, f"the format= value is not one this endpoint serves; use one of {', '.join(sorted(SHORT))} "
                               "or one of their media types")
        return media
    for part in accept.split(",", 64)[:64]:  # the first types only: a header may be megabytes long
        media = part.split(";", 1)[0].strip().lower()
        if media in RESULT_TYPES or media in GRAPH_TYPES:
            return media
    return ""  # the default for the query form


def fields(raw: str, where: str) -> dict[str, list[str]]:
    """The fields of a query string or a form (at most FORM_FIELDS): names decoded, values still percent-encoded.

    Percent-decoding a value of megabytes takes Python about a second, so that is left to the worker
    (:func:`decoded`); splitting and decoding the short names is quick.
    """
    from urllib.parse import unquote_plus

    parts = raw.split("&", FORM_FIELDS)
    if len(parts) > FORM_FIELDS:
        raise Refused(400, f"the {where} holds more than {FORM_FIELDS} fields")
    out: dict[str, list[str]] = {}
    for part in parts:
        if part:
            name, _, value = part.partition("=")
            if len(name) > 256:
                raise Refused(400, f"the {where} holds a field name longer than 256 characters")
            out.setdefault(unquote_plus(name), []).append(value)
    return out


def decoded(value: str, limit: int) -> str:
    """A percent-encoded field value, decoded; a short value only (a longer one is decoded in a worker)."""
    from urllib.parse import unquote_plus

    if len(value) > limit:
        raise Refused(400, f"a field value longer than {limit} characters where a short one is expected")
    return unquote_plus(value)


_SD_COMMENT = ("Read-only: SPARQL Update is refused. SERVICE is refused unless the server runs with --allow-federation. "
               "Prefixes of the project (smo:, study:, result:, ...) may be used without declaring them.")


def service_description(endpoint: str) -> str:
    formats = "\n".join(f"    sd:resultFormat <http://www.w3.org/ns/formats/{f}> ;" for f in
                        ("SPARQL_Results_JSON", "SPARQL_Results_XML", "SPARQL_Results_CSV", "SPARQL_Results_TSV",
                         "Turtle", "N-Triples", "JSON-LD", "RDF_XML"))
    return f"""@prefix sd: <http://www.w3.org/ns/sparql-service-description#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .

<{endpoint}> a sd:Service ;
    rdfs:label "smnpc-kg SPARQL endpoint (read-only)" ;
    sd:endpoint <{endpoint}> ;
    sd:supportedLanguage sd:SPARQL11Query ;
{formats}
    sd:feature sd:UnionDefaultGraph , sd:BasicFederatedQuery ;
    rdfs:comment "{_SD_COMMENT}" .
"""


def openapi(limits: Limits) -> dict[str, Any]:
    """The endpoint's OpenAPI 3.1 description: its routes, what they take, and every status they answer with."""
    from smnpc_kg.clinical.patient import schema

    def text(why: str) -> dict[str, Any]:
        return {"description": why, "content": {"text/plain": {"schema": {"type": "string"}}}}

    t = f"{limits.timeout_s:g} s"
    retry = {"Retry-After": {"description": "seconds to wait: sent only when every worker was busy",
                             "schema": {"type": "integer"}}}
    busy = {**text(f"every worker stayed busy for {t} (with Retry-After), or the request ran over {t} or "
                   f"{limits.max_memory_mb} MB and was stopped (without Retry-After: the same request would be stopped again)"),
            "headers": retry}
    common = {"405": text("another method on this path: not allowed (the Allow header lists those that are)"),
              "414": text(f"a path (before any '?') of more than {MAX_PATH} bytes"),
              "431": text(f"a request head of more than {MAX_HEAD_LINES} lines"),
              "500": text("an internal error (a defect): one line, never a traceback")}
    posted = {"408": text(f"the request body did not arrive within {t}"),
              "413": text(f"a body over {limits.max_request_bytes} bytes (a form: its decoded query), or a request head "
                          f"over {limits.max_head_bytes} bytes")}
    refused = {"400": text("malformed query (the parser's line:column message), nesting deeper than the parser allows, "
                           "a bad header, too many fields or an over-long one, or a body that is not UTF-8"),
               "403": text("SPARQL Update (also one hidden by escapes or invisible characters), or SERVICE while federation is off"),
               "406": text("a format= the endpoint does not serve (the message names those it does)"),
               "413": text(f"a query over {limits.max_request_bytes} bytes once decoded, a request head over "
                           f"{limits.max_head_bytes} bytes, or a result over {limits.max_result_bytes} bytes"),
               "503": busy, **common}
    results = {"description": "query results (SELECT/ASK) or a graph (CONSTRUCT/DESCRIBE)",
               "content": {media: {"schema": {"type": "string"}} for media in (*RESULT_TYPES, *GRAPH_TYPES)}}
    params = [{"name": "query", "in": "query", "schema": {"type": "string"},
               "description": (f"a SPARQL 1.1 query of at most {limits.max_request_bytes} bytes (UTF-8, after percent-decoding); "
                               "without it, GET answers with the service description")},
              {"name": "format", "in": "query", "schema": {"type": "string", "enum": sorted(SHORT)}}]
    patient = schema()
    patient_body = {"required": True, "content": {"application/json": {"schema": {
        "oneOf": [patient, {"type": "array", "items": patient, "maxItems": MAX_PATIENTS}]}}}}
    error_body = {"type": "object", "required": ["error", "details"],
                  "properties": {"error": {"type": "string"}, "details": {"type": "array", "items": {"type": "string"}}}}
    patient_answers = {
        "200": {"description": "one report per patient", "content": {"application/json": {"schema": {}}}},
        "400": {"description": "the body is not JSON, or a patient breaks the schema or a clinical rule (the field and rule named)",
                "content": {"application/json": {"schema": error_body}, "text/plain": {"schema": {"type": "string"}}}},
        **posted,
        "413": text(f"more than {MAX_PATIENTS} patients, a body over {limits.max_request_bytes} bytes, "
                    f"or an answer over {limits.max_result_bytes} bytes"),
        "503": busy, **common}
    redirect = {"307": {"description": "the same path without the trailing slash (Location)",
                        "headers": {"Location": {"schema": {"type": "string"}}}}}
    html = {"200": {"description": "the query page", "content": {"text/html": {"schema": {"type": "string"}}}}, **common}
    return {
        "openapi": "3.1.0",
        "info": {"title": "smnpc-kg SPARQL endpoint", "version": "1.0",
                 "description": ("Read-only SPARQL 1.1 Protocol endpoint over the smNPC knowledge graph, "
                                 "and patient classification and pathway recommendation.")},
        "paths": {
            "/": {"get": {"summary": "the query page: an editor and the example queries", "responses": html}},
            "/sparql": {
                "get": {"summary": "SPARQL query by GET", "parameters": params,
                        "responses": {"200": results, **refused}},
                "post": {"summary": "SPARQL query by POST (form or direct)",
                         "parameters": [params[1]],
                         "requestBody": {"required": True, "content": {
                             "application/sparql-query": {"schema": {"type": "string"}},
                             "application/x-www-form-urlencoded": {"schema": {"type": "object", "properties": {"query": {"type": "string"}}}},
                         }},
                         "responses": {"200": results, **refused, **posted, "413": refused["413"],
                                       "415": text("a body that is neither a query nor a form")}},
            },
            "/classify": {"post": {"summary": "the classes (stratification groups, clinical classes) a patient belongs to",
                                   "requestBody": patient_body, "responses": patient_answers}},
            "/recommend": {"post": {"summary": "the treatment pathway for a patient, each step with its evidence chain",
                                    "requestBody": patient_body, "responses": patient_answers}},
            "/examples": {"get": {"summary": "the query library", "responses": {
                "200": {"description": "name, title, description, keywords and text of every library query",
                        "content": {"application/json": {"schema": {"type": "array"}}}}, **common}}},
            "/openapi.json": {"get": {"summary": "this description", "responses": {
                "200": {"description": "OpenAPI 3.1", "content": {"application/json": {"schema": {"type": "object"}}}}, **common}}},
            "/sparql/": {"get": {"summary": "redirect to /sparql", "responses": redirect},
                         "post": {"summary": "redirect to /sparql (the method is kept)", "responses": redirect}},
            "/examples/": {"get": {"summary": "redirect to /examples", "responses": redirect}},
            "/classify/": {"post": {"summary": "redirect to /classify", "responses": redirect}},
            "/recommend/": {"post": {"summary": "redirect to /recommend", "responses": redirect}},
            "/openapi.json/": {"get": {"summary": "redirect to /openapi.json", "responses": redirect}},
        },
    }


def create_app(dist: Path, ontology: Path, queries: Path, limits: Limits | None = None) -> Any:
    """The ASGI application (Starlette), serving the build ``dist`` points to now, until it stops."""
    from contextlib import asynccontextmanager

    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.cors import CORSMiddleware
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, PlainTextResponse, Response
    from starlette.routing import Route

    from smnpc_kg.core.inputs import read_text
    from smnpc_kg.kg.dist import verified_bytes
    from smnpc_kg.kg.queries import library
    from smnpc_kg.web.page import page_html

    limits = limits or Limits()
    nt = verified_bytes(dist, "smnpc-kg.nt")  # read once: every worker, now or later, loads these bytes
    ontology_text = read_text(ontology, what="ontology file").encode("utf-8")
    examples_json = json.dumps([{"name": q.name, "title": q.header.title, "description": q.header.description,
                                 "keywords": q.header.keywords, "query": q.text} for q in library(queries)],
                               ensure_ascii=False).encode("utf-8")
    openapi_json = json.dumps(openapi(limits), ensure_ascii=False).encode("utf-8")
    page = page_html()
    query_pool = WorkerPool("query", _query_worker, (limits.max_memory_mb, limits.allow_federation), (nt,),
                            limits.workers, limits.max_memory_mb)
    patient_pool = WorkerPool("patient", _patient_worker, (limits.max_memory_mb,), (nt, ontology_text),
                              limits.patient_workers, limits.max_memory_mb)
    query_pool.start()  # before the server listens: a worker that cannot start is a one-line error here
    try:
        patient_pool.start()
    except Exception:
        query_pool.stop()
        raise

    def error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
        return PlainTextResponse(message + "\n", status_code=status, headers=headers)

    def retry_after(reply: Reply) -> dict[str, str] | None:
        """Retry-After on "every worker busy" only: a time-out or a memory stop would fail the same way again."""
        return {"Retry-After": str(max(1, round(limits.timeout_s)))} if reply == Reply.BUSY else None

    def refusal(request: Request, exc: Refused) -> Response:
        # a POST refused before its body was read whole: close, so that the rest of the body is not waited for
        close = {"Connection": "close"} if request.method == "POST" else {}
        return error(exc.status, exc.message, {**exc.headers, **close})

    async def body_bytes(request: Request, limit: int) -> bytes:
        declared = request.headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                raise Refused(400, f"the Content-Length header is not a number: {declared[:40]!r}")
            if len(declared) > 18 or int(declared) > limit:
                raise Refused(413, f"the request body is larger than {limit} bytes")
        body = bytearray()
        try:
            async with asyncio.timeout(limits.timeout_s):
                async for chunk in request.stream():
                    body += chunk
                    if len(body) > limit:
                        raise Refused(413, f"the request body is larger than {limit} bytes")
        except TimeoutError as exc:
            raise Refused(408, f"the request body did not arrive within {limits.timeout_s:g} s") from exc
        return bytes(body)

    def utf8(data: bytes) -> str:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Refused(400, "the request body is not UTF-8 text") from exc

    read_only = "read-only: this endpoint refuses SPARQL Update"

    async def sparql(request: Request) -> Response:
        try:
            params = fields(request.scope["query_string"].decode("latin-1"), "query string")
            if "update" in params:
                raise Refused(403, read_only)
            query, encoded = (params["query"][0], True) if "query" in params else (None, False)
            if request.method == "POST":
                ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
                if ctype == "application/sparql-update":
                    raise Refused(403, read_only)
                if ctype == "application/sparql-query":
                    query, encoded = utf8(await body_bytes(request, limits.max_request_bytes)), False
                elif ctype == "application/x-www-form-urlencoded":
                    form = fields(utf8(await body_bytes(request, limits.max_form_bytes)), "form")
                    if "update" in form:
                        raise Refused(403, read_only)
                    query, encoded = (form["query"][0], True) if "query" in form else (None, False)
                else:
                    raise Refused(415, "POST a query as application/sparql-query, or as a form field 'query' (application/x-www-form-urlencoded)")
            if query is None:
                base = str(request.url).split("?")[0]
                return Response(service_description(base), media_type="text/turtle")
            fmt = decoded(params["format"][0], 200) if "format" in params else None
            media = negotiate(request.headers.get("accept", ""), fmt)
            status, payload = await query_pool.run((query, encoded, media, limits.max_result_bytes, limits.max_request_bytes),
                                                   limits.timeout_s, "query")
        except Refused as exc:
            return refusal(request, exc)
        if status == Reply.OK:
            media, data = payload
            return Response(data, media_type=media)
        if status == Reply.REFUSED:
            code, message = payload
            return error(code, message)
        code, message = QUERY_ANSWERS.get(status, QUERY_ANSWERS[Reply.ERROR])
        return error(code, message.format(payload), retry_after(status))

    async def patient_route(request: Request, kind: str) -> Response:
        try:
            text = utf8(await body_bytes(request, limits.max_request_bytes))
        except Refused as exc:
            return refusal(request, exc)
        status, payload = await patient_pool.run((kind, text, limits.max_result_bytes), limits.timeout_s, "request")
        if status == Reply.OK:
            return Response(payload, media_type="application/json")
        if status == Reply.INVALID:
            return Response(json.dumps(payload, ensure_ascii=False).encode("utf-8"), status_code=400,
                            media_type="application/json")
        code, message = PATIENT_ANSWERS.get(status, PATIENT_ANSWERS[Reply.ERROR])
        return error(code, message.format(payload, kind=kind), retry_after(status))

    async def classify(request: Request) -> Response:
        return await patient_route(request, "classify")

    async def recommend(request: Request) -> Response:
        return await patient_route(request, "recommend")

    async def examples(request: Request) -> Response:
        return Response(examples_json, media_type="application/json")

    async def openapi_route(request: Request) -> Response:
        return Response(openapi_json, media_type="application/json")

    async def index(request: Request) -> Response:
        return HTMLResponse(page)

    @asynccontextmanager
    async def lifespan(app: Any) -> Any:
        try:
            yield
        finally:
            query_pool.stop()
            patient_pool.stop()

    routes = [Route("/", index), Route("/sparql", sparql, methods=["GET", "POST"]),
              Route("/examples", examples), Route("/classify", classify, methods=["POST"]),
              Route("/recommend", recommend, methods=["POST"]), Route("/openapi.json", openapi_route)]
    middleware = [Middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["GET", "POST"], allow_headers=["*"])]
    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)


# ------------------------------------------------------------------ HTTP: a time limit on the request head too
def head_timeout_protocol(timeout_s: float, max_head_bytes: int) -> type[asyncio.Protocol]:
    """uvicorn's h11 protocol, closing a connection whose request head has not arrived within ``timeout_s``.

    uvicorn limits the time a kept-alive connection may stay silent, but not the time a request head may take
    to trickle in. A head larger than ``max_head_bytes`` gets a 413 (uvicorn would send a bare 400).
    """
    import re

    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    end_of_head = re.compile(rb"\n\r?\n")

    def plain(status: str, message: str) -> bytes:
        body = (message + "\n").encode("ascii")
        return (f"HTTP/1.1 {status}\r\ncontent-type: text/plain; charset=utf-8\r\nconnection: close\r\n"
                f"content-length: {len(body)}\r\n\r\n").encode("ascii") + body

    class HeadTimeoutProtocol(H11Protocol):
        head_timer: asyncio.TimerHandle | None = None
        head_bytes = 0
        head_lines = 0  # h11 parses each header line in Python: hundreds of thousands would stall the event loop
        head_tail = b""
        line = b""  # the start of the request line, until the end of its path is seen (uvicorn decodes the path)
        path_open = True
        draining = False

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._watch_head()

        def data_received(self, data: bytes) -> None:
            if self.draining:
                return
            if self.conn.their_state is h11.IDLE:
                self.head_bytes += len(data)
                seen = self.head_tail + data
                end = end_of_head.search(seen)
                self.head_lines += (seen[:end.start()] if end else seen)[len(self.head_tail):].count(b"\n")
                self.head_tail = seen[-2:]
                if self.head_lines > MAX_HEAD_LINES:
                    self._refuse("431 Request Header Fields Too Large",
                                 f"the request head has more than {MAX_HEAD_LINES} lines (header fields)")
                    return
                if self.path_open and self._path_too_long(data):
                    self._refuse("414 URI Too Long", f"the path is longer than {MAX_PATH} bytes")
                    return
            super().data_received(data)
            self._watch_head()

        def _path_too_long(self, data: bytes) -> bool:
            """Whether the path of the request line (before any '?') is over MAX_PATH bytes, from what has arrived."""
            self.line += data[:MAX_PATH + 64 - len(self.line)]
            method_end = self.line.find(b" ")
            if method_end < 0:
                return False
            target = self.line[method_end + 1:]
            ends = [i for i in (target.find(b"?"), target.find(b" "), target.find(b"\n")) if i >= 0]
            if ends:
                self.path_open = False
                return min(ends) > MAX_PATH
            return len(target) > MAX_PATH

        def eof_received(self) -> None:
            if self.draining:
                self.transport.close()

        def _refuse(self, status: str, message: str) -> None:
            """Answer, then read and drop what the client is still sending (closing at once could reset the
            connection before the client reads the answer), for at most 2 s."""
            self.transport.write(plain(status, message))
            self.draining = True
            if self.transport.can_write_eof():
                self.transport.write_eof()
            self.loop.call_later(2.0, self.transport.close)

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._watch_head()

        def connection_lost(self, exc: Exception | None) -> None:
            self._stop_watching()
            super().connection_lost(exc)

        def send_400_response(self, msg: str) -> None:
            if self.head_bytes > max_head_bytes:  # h11 refused a head over its size limit
                self._refuse("413 Content Too Large", f"the request head is larger than {max_head_bytes} bytes; "
                                                      "POST a large query instead of sending it in the URL")
                return
            super().send_400_response(msg)

        def _watch_head(self) -> None:
            waiting = self.conn.their_state is h11.IDLE and not self.transport.is_closing()
            if waiting and self.head_timer is None:
                self.head_bytes = self.head_lines = 0
                self.head_tail = self.line = b""
                self.path_open = True
                self.head_timer = self.loop.call_later(timeout_s, self._head_too_slow)
            elif not waiting:
                self._stop_watching()

        def _stop_watching(self) -> None:
            if self.head_timer is not None:
                self.head_timer.cancel()
                self.head_timer = None

        def _head_too_slow(self) -> None:
            self.head_timer = None
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                if self.head_bytes:  # a request had begun: say why it is cut off
                    self._refuse("408 Request Timeout", f"the request head did not arrive within {timeout_s:g} s")
                else:
                    self.transport.close()

    return HeadTimeoutProtocol


def serve(app: Any, host: str, port: int, limits: Limits) -> None:
    """Run ``app`` with uvicorn, with time and size limits on request heads."""
    import uvicorn

    config = uvicorn.Config(app, host=host, port=port, log_level="warning",
                            http=head_timeout_protocol(limits.timeout_s, limits.max_head_bytes),
                            h11_max_incomplete_event_size=limits.max_head_bytes)
    uvicorn.Server(config).run()
