"""The SPARQL 1.1 Protocol endpoint (read-only), its query page, and /classify and /recommend."""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import re
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import IO, Any, cast

from smnpc_kg.namespaces import PREFIXES

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
# applied after strings, IRIs and comments are blanked out, so a prologue is "PREFIX ex:" and "BASE"
_UPDATE = re.compile(r"^\s*(?:(?:PREFIX\s+[^\s:]*:|BASE)\s*)*(INSERT|DELETE|LOAD|CLEAR|CREATE|DROP|COPY|MOVE|ADD|WITH)\b", re.I)
_STRINGS = re.compile(r'"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\'|"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'|<[^<>"{}|^`\\\s]*>|#[^\n]*')


@dataclass
class Limits:
    """What the endpoint allows: the defaults are safe for a public machine."""

    timeout_s: float = 10.0
    max_result_bytes: int = 10 * 2**20
    max_request_bytes: int = 2**20
    workers: int = 2
    allow_federation: bool = False
    max_memory_mb: int = 2048


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def check_operation(query: str, limits: Limits) -> None:
    """Refuse updates (403) and SERVICE federation (403 unless enabled) before anything runs."""
    if _UPDATE.match(_STRINGS.sub(" ", query)):
        raise Refused(403, "this endpoint is read-only: SPARQL Update (INSERT, DELETE, LOAD, CLEAR, ...) is refused")
    if not limits.allow_federation and re.search(r"\bSERVICE\b", _STRINGS.sub(" ", query), re.I):
        raise Refused(403, "SERVICE (federated query) is disabled on this endpoint; start it with --allow-federation to enable it")


# ------------------------------------------------------------------ query workers: killable, so a query can time out
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


def _worker(conn: Connection, dist: str, max_memory_mb: int) -> None:  # pragma: no cover - runs in a child process
    import resource

    import pyoxigraph as ox

    from smnpc_kg.dist import verified_bytes
    from smnpc_kg.errors import DistError

    try:
        data = verified_bytes(Path(dist), "smnpc-kg.nt")
    except DistError as exc:
        conn.send(("failed", str(exc)))
        return
    store = ox.Store()
    store.bulk_load(data, format=ox.RdfFormat.N_TRIPLES)
    del data
    if max_memory_mb:  # a query that needs more (a huge sort, a cartesian product) ends this worker, not the machine
        cap = max_memory_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    conn.send(("ready", ""))
    while True:
        try:
            query, media, limit = conn.recv()
        except EOFError:
            return
        try:
            answer = store.query(query, prefixes=PREFIXES, use_default_graph_as_union=True)
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
            conn.send(("ok", (media, b"".join(out.parts))))
        except _TooLarge:
            conn.send(("too-large", f"the result is larger than {limit} bytes; add a LIMIT or a narrower pattern"))
        except SyntaxError as exc:
            conn.send(("syntax", str(exc)))
        except MemoryError:
            conn.send(("memory", f"the query needed more than {max_memory_mb} MB and was stopped"))
            return  # the worker may be in a bad state: the pool replaces it
        except Exception as exc:  # the query failed while running (for example a type error)
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


class WorkerPool:
    """Worker processes that each hold the KG; a query that runs too long, or kills its worker, gets it replaced."""

    def __init__(self, dist: Path, size: int, max_memory_mb: int) -> None:
        self.dist = str(dist)
        self.max_memory_mb = max_memory_mb
        self.ctx = mp.get_context("spawn")
        self.idle: asyncio.Queue[tuple[Any, Connection]] = asyncio.Queue()
        self.size = size
        self.all: list[Any] = []

    def _spawn(self) -> tuple[Any, Connection]:
        from smnpc_kg.errors import DistError

        parent, child = self.ctx.Pipe()
        proc = self.ctx.Process(target=_worker, args=(child, self.dist, self.max_memory_mb), daemon=True)
        proc.start()
        child.close()
        try:
            status, message = parent.recv()
        except EOFError:
            status, message = "failed", f"the query worker exited with code {proc.exitcode} while loading the KG"
        if status != "ready":
            proc.join()
            raise DistError(message)
        self.all.append(proc)
        return proc, parent

    async def start(self) -> None:
        for _ in range(self.size):
            self.idle.put_nowait(await asyncio.to_thread(self._spawn))

    async def _replace(self, proc: Any) -> tuple[Any, Connection]:
        proc.kill()
        proc.join()
        if proc in self.all:
            self.all.remove(proc)
        return await asyncio.to_thread(self._spawn)

    async def run(self, query: str, media: str, limits: Limits) -> tuple[str, Any]:
        try:  # a request waits for a free worker at most as long as a query may run, then hears that the server is busy
            proc, conn = await asyncio.wait_for(self.idle.get(), timeout=limits.timeout_s)
        except TimeoutError:
            return "busy", f"every query worker stayed busy for {limits.timeout_s:g} s; try again shortly"
        try:
            try:
                conn.send((query, media, limits.max_result_bytes))
                ready = await asyncio.to_thread(conn.poll, limits.timeout_s)
                if not ready:
                    proc, conn = await self._replace(proc)
                    return "timeout", f"the query ran longer than {limits.timeout_s:g} s and was stopped"
                result: tuple[str, Any] = conn.recv()
            except (EOFError, OSError):  # the worker died under the query (out of memory, or killed)
                proc, conn = await self._replace(proc)
                return "memory", f"the query stopped its worker (more than {limits.max_memory_mb} MB?) and was abandoned"
            if result[0] == "memory":
                proc, conn = await self._replace(proc)
            return result
        finally:
            self.idle.put_nowait((proc, conn))

    def stop(self) -> None:
        for proc in self.all:
            proc.kill()
            proc.join()


def negotiate(accept: str, fmt: str | None) -> str:
    """The media type to answer with: ?format= wins, then the Accept header's first type we serve."""
    if fmt:
        return SHORT.get(fmt.lower(), fmt)
    for part in accept.split(","):
        media = part.split(";")[0].strip().lower()
        if media in RESULT_TYPES or media in GRAPH_TYPES:
            return media
    return ""  # the default for the query form


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
    from smnpc_kg.patient import schema

    def text(why: str) -> dict[str, Any]:
        return {"description": why, "content": {"text/plain": {"schema": {"type": "string"}}}}

    refused = {"400": text("malformed query (the parser's message), bad header or non-UTF-8 body"),
               "403": text("SPARQL Update, or SERVICE while federation is off"),
               "406": text("a result format the endpoint does not serve"),
               "413": text(f"request over {limits.max_request_bytes} bytes, or result over {limits.max_result_bytes} bytes"),
               "503": text(f"the query ran over {limits.timeout_s:g} s or {limits.max_memory_mb} MB and was stopped, "
                           "or every worker stayed busy that long (Retry-After)")}
    results = {"description": "query results (SELECT/ASK) or a graph (CONSTRUCT/DESCRIBE)",
               "content": {media: {"schema": {"type": "string"}} for media in (*RESULT_TYPES, *GRAPH_TYPES)}}
    params = [{"name": "query", "in": "query", "schema": {"type": "string"},
               "description": "a SPARQL 1.1 query; without it, GET answers with the service description"},
              {"name": "format", "in": "query", "schema": {"type": "string", "enum": sorted(SHORT)}}]
    patient = schema()
    patient_body = {"required": True, "content": {"application/json": {"schema": {
        "oneOf": [patient, {"type": "array", "items": patient, "maxItems": 1000}]}}}}
    patient_answers = {"200": {"description": "one report per patient", "content": {"application/json": {"schema": {}}}},
                       "400": {"description": "the body is not JSON, or a patient breaks the schema or a clinical rule (the field and rule named)",
                               "content": {"application/json": {"schema": {"type": "object"}}, "text/plain": {"schema": {"type": "string"}}}},
                       "413": text("more than 1000 patients, or a body over the size limit")}
    return {
        "openapi": "3.1.0",
        "info": {"title": "smnpc-kg SPARQL endpoint", "version": "1.0",
                 "description": ("Read-only SPARQL 1.1 Protocol endpoint over the smNPC knowledge graph, "
                                 "and patient classification and pathway recommendation.")},
        "paths": {
            "/sparql": {
                "get": {"summary": "SPARQL query by GET", "parameters": params,
                        "responses": {"200": results, **refused}},
                "post": {"summary": "SPARQL query by POST (form or direct)",
                         "parameters": [params[1]],
                         "requestBody": {"required": True, "content": {
                             "application/sparql-query": {"schema": {"type": "string"}},
                             "application/x-www-form-urlencoded": {"schema": {"type": "object", "properties": {"query": {"type": "string"}}}},
                         }},
                         "responses": {"200": results, **refused, "415": text("a body that is neither a query nor a form")}},
            },
            "/classify": {"post": {"summary": "the classes (stratification groups, clinical classes) a patient belongs to",
                                   "requestBody": patient_body, "responses": patient_answers}},
            "/recommend": {"post": {"summary": "the treatment pathway for a patient, each step with its evidence chain",
                                    "requestBody": patient_body, "responses": patient_answers}},
            "/examples": {"get": {"summary": "the query library", "responses": {
                "200": {"description": "name, title, description, keywords and text of every library query",
                        "content": {"application/json": {"schema": {"type": "array"}}}}}}},
            "/openapi.json": {"get": {"summary": "this description", "responses": {
                "200": {"description": "OpenAPI 3.1", "content": {"application/json": {"schema": {"type": "object"}}}}}}},
        },
    }


def create_app(dist: Path, ontology: Path, queries: Path, limits: Limits | None = None) -> Any:
    """The ASGI application (Starlette)."""
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.cors import CORSMiddleware
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
    from starlette.routing import Route

    from smnpc_kg.page import page_html
    from smnpc_kg.queries import library

    limits = limits or Limits()
    build = dist.resolve()  # one build for the whole life of the server, even if dist/ is rebuilt meanwhile
    pool = WorkerPool(build, limits.workers, limits.max_memory_mb)
    state: dict[str, Any] = {}

    def error(status: int, message: str) -> Response:
        return PlainTextResponse(message + "\n", status_code=status)

    async def body_text(request: Request) -> str:
        declared = request.headers.get("content-length") or "0"
        if not declared.isdigit():
            raise Refused(400, f"the Content-Length header is not a number: {declared[:40]!r}")
        if int(declared) > limits.max_request_bytes:
            raise Refused(413, f"the request body is larger than {limits.max_request_bytes} bytes")
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > limits.max_request_bytes:
                raise Refused(413, f"the request body is larger than {limits.max_request_bytes} bytes")
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Refused(400, "the request body is not UTF-8 text") from exc

    async def sparql(request: Request) -> Response:
        try:
            query: str | None = request.query_params.get("query")
            if request.method == "POST":
                ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
                text = await body_text(request)
                if ctype == "application/sparql-update":
                    raise Refused(403, "this endpoint is read-only: SPARQL Update is refused")
                if ctype == "application/sparql-query":
                    query = text
                elif ctype == "application/x-www-form-urlencoded":
                    from urllib.parse import parse_qs

                    form = parse_qs(text, keep_blank_values=True)
                    if "update" in form:
                        raise Refused(403, "this endpoint is read-only: SPARQL Update is refused")
                    query = form["query"][0] if form.get("query") else None
                else:
                    raise Refused(415, "POST a query as application/sparql-query, or as a form field 'query' (application/x-www-form-urlencoded)")
            elif "update" in request.query_params:
                raise Refused(403, "this endpoint is read-only: SPARQL Update is refused")
            if query is None:
                base = str(request.url).split("?")[0]
                return Response(service_description(base), media_type="text/turtle")
            if len(query.encode("utf-8")) > limits.max_request_bytes:
                raise Refused(413, f"the query is larger than {limits.max_request_bytes} bytes")
            check_operation(query, limits)
            media = negotiate(request.headers.get("accept", ""), request.query_params.get("format"))
            if media and media not in RESULT_TYPES and media not in GRAPH_TYPES:
                raise Refused(406, f"cannot answer in {media}; use one of {', '.join(sorted(SHORT))}")
            status, payload = await pool.run(query, media, limits)
        except Refused as exc:
            return error(exc.status, exc.message)
        if status == "ok":
            media, data = payload
            return Response(data, media_type=media)
        if status == "syntax":
            return error(400, f"SPARQL syntax error: {payload}")
        if status in ("timeout", "memory"):
            return error(503, payload)
        if status == "busy":
            return PlainTextResponse(payload + "\n", status_code=503, headers={"Retry-After": str(max(1, round(limits.timeout_s)))})
        if status == "too-large":
            return error(413, payload)
        return error(400, f"the query failed: {payload}")

    async def examples(request: Request) -> Response:
        return JSONResponse([{"name": q.name, "title": q.header.title, "description": q.header.description,
                              "keywords": q.header.keywords, "query": q.text} for q in library(queries)])

    async def patient_route(request: Request, kind: str) -> Response:
        from smnpc_kg.classify import report_json
        from smnpc_kg.errors import SmnpcError
        from smnpc_kg.pathway import as_json
        from smnpc_kg.patient import from_json, parse_json

        try:
            data = parse_json(await body_text(request), "request body")
            items = data if isinstance(data, list) else [data]
            if len(items) > 1000:
                raise Refused(413, "at most 1000 patients per request")
            patients = [from_json(item, f"patient[{i}]" if len(items) > 1 else "patient") for i, item in enumerate(items)]
        except Refused as exc:
            return error(exc.status, exc.message)
        except SmnpcError as exc:
            details = getattr(exc, "details", [])
            return JSONResponse({"error": str(exc), "details": details}, status_code=400)
        classifier, pathway = state["classifier"], state["pathway"]
        out = [report_json(classifier.report(p)) if kind == "classify" else as_json(pathway.walk(p), pathway) for p in patients]
        return JSONResponse(out if isinstance(data, list) else out[0])

    async def classify(request: Request) -> Response:
        return await patient_route(request, "classify")

    async def recommend(request: Request) -> Response:
        return await patient_route(request, "recommend")

    async def openapi_route(request: Request) -> Response:
        return JSONResponse(openapi(limits))

    async def index(request: Request) -> Response:
        return HTMLResponse(page_html())

    async def startup() -> None:
        from rdflib import Graph

        from smnpc_kg.classify import Classifier, Definitions
        from smnpc_kg.pathway import Pathway
        from smnpc_kg.store import OxigraphStore

        store = OxigraphStore.from_dist(build)
        definitions = Definitions(Graph().parse(ontology))
        state["classifier"] = Classifier(definitions, store)
        state["pathway"] = Pathway(store, definitions)
        await pool.start()

    async def shutdown() -> None:
        pool.stop()

    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(app: Any) -> Any:
        await startup()
        try:
            yield
        finally:
            await shutdown()

    routes = [Route("/", index), Route("/sparql", sparql, methods=["GET", "POST"]),
              Route("/examples", examples), Route("/classify", classify, methods=["POST"]),
              Route("/recommend", recommend, methods=["POST"]), Route("/openapi.json", openapi_route)]
    middleware = [Middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["GET", "POST"], allow_headers=["*"])]
    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
