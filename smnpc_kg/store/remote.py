"""Remote SPARQL 1.1 endpoints: querying through SPARQLWrapper, and pushing the built KG (Graph Store Protocol, SPARQL Update)."""

from __future__ import annotations

import contextlib
import email.utils
import http.client
import json
import math
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from typing import Any, TypeVar

from smnpc_kg.core.errors import QueryError, SmnpcError, StoreError
from smnpc_kg.store.embedded import Results, Term, with_prefixes

T = TypeVar("T")

# what a request can fail with below HTTP (refused, reset, cut off, timed out) and as an HTTP error status
TRANSPORT_ERRORS = (urllib.error.URLError, http.client.HTTPException, OSError)


class Exhausted(Exception):
    """Every attempt failed with a transient failure; ``last`` is the last one."""

    def __init__(self, last: BaseException, attempts: int) -> None:
        self.last = last
        self.attempts = attempts
        super().__init__(f"{attempts} attempts, the last: {one_line(str(last))}")


@dataclass(frozen=True)
class RetryPolicy:
    """Which failures are worth another attempt, and how long to wait before it.

    Transient, and retried with exponential backoff: a connection refused, reset or cut off, 502 Bad Gateway, and
    503 *with* Retry-After (every worker busy: the wait is the server's, up to ``max_retry_after_s``). Final, never
    retried, because the same request would fail the same way or add load to a server that is already over its
    limits: every 4xx, 500, 504, a 503 without Retry-After (the server stopped the query for its time or memory
    limit) and a client-side timeout (the query takes longer than the client waits).

    >>> policy = RetryPolicy(backoff_s=0.5)
    >>> policy.wait(http.client.RemoteDisconnected("gone"), attempt=2)
    2.0
    >>> policy.wait(TimeoutError("timed out"), attempt=0) is None
    True
    """

    retries: int = 3
    backoff_s: float = 0.5
    max_retry_after_s: float = 30.0

    def wait(self, exc: BaseException, attempt: int) -> float | None:
        """Seconds to wait before attempt ``attempt + 1`` after ``exc``, or None when ``exc`` is final."""
        backoff = self.backoff_s * 2.0**attempt
        if isinstance(exc, urllib.error.HTTPError):
            if exc.code == 502:
                return backoff
            if exc.code == 503:
                after = retry_after(exc.headers)
                return None if after is None else max(backoff, min(after, self.max_retry_after_s))
            return None
        if isinstance(exc, urllib.error.URLError):
            return backoff  # refused, unreachable, or the request could not be sent whole: nothing was answered
        if isinstance(exc, TimeoutError):
            return None  # no answer within the client's time: the same query would take as long again
        if isinstance(exc, http.client.HTTPException | ConnectionError):
            return backoff  # the answer was cut off, or the connection reset
        return None

    def run(self, attempt: Callable[[], T]) -> T:
        """``attempt()`` until it succeeds; a final failure is raised as it is, a transient one that lasts as Exhausted."""
        for n in range(self.retries + 1):
            try:
                return attempt()
            except TRANSPORT_ERRORS as exc:
                wait = self.wait(exc, n)
                if wait is None:
                    raise
                if n == self.retries:
                    raise Exhausted(exc, n + 1) from exc
                time.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover


def retry_after(headers: Message | None) -> float | None:
    """The Retry-After header in seconds (a number of seconds or an HTTP date), None when absent.

    >>> m = Message(); m["Retry-After"] = "7"; retry_after(m)
    7.0
    >>> retry_after(Message()) is None
    True
    >>> m = Message(); m["Retry-After"] = "soon"; retry_after(m)
    0.0
    """
    value = headers.get("Retry-After") if headers is not None else None
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(int(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return 0.0  # present but unreadable: still "come back later", after the backoff
    return max(0.0, when.timestamp() - time.time())


def one_line(text: str, limit: int = 300) -> str:
    """``text`` on one line (whitespace runs become one space), at most ``limit`` characters.

    >>> one_line("a\\n\\n  b")
    'a b'
    """
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def http_body(exc: urllib.error.HTTPError) -> str:
    """What the server said with an error status, on one line, after a colon ('' when it said nothing)."""
    try:
        text = one_line(exc.read(64 * 1024).decode("utf-8", "replace"))
    except (OSError, http.client.HTTPException):
        text = ""
    return f": {text}" if text else ""


class RemoteStore:
    """A SPARQL 1.1 endpoint (Oxigraph server, Virtuoso, GraphDB, Fuseki ...) behind the same interface as the embedded store.

    Transient failures are retried with exponential backoff (see RetryPolicy); a final one, or a store that stays
    down, gives one clear error. Each answer is read within ``timeout_s`` and at most ``max_result_bytes``.
    """

    def __init__(self, endpoint: str, retries: int = 3, backoff_s: float = 0.5, timeout_s: float = 60.0,
                 max_retry_after_s: float = 30.0, max_result_bytes: int = 64 * 2**20) -> None:
        self.endpoint = endpoint
        self.retries = retries
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s
        self.max_result_bytes = max_result_bytes
        self.policy = RetryPolicy(retries, backoff_s, max_retry_after_s)

    def query(self, sparql: str) -> Results:
        from SPARQLWrapper import JSON, N3, POST, SPARQLWrapper
        from SPARQLWrapper.SPARQLExceptions import SPARQLWrapperException

        # whole-line comments go: SPARQLWrapper guesses the query form from keywords and a header comment
        # ("... does not add up", "describes ...") would fool it into ADD or DESCRIBE
        text = with_prefixes("\n".join(line for line in sparql.splitlines() if not line.lstrip().startswith("#")))
        client = SPARQLWrapper(self.endpoint)
        client.setMethod(POST)
        client.setTimeout(max(1, math.ceil(self.timeout_s)))
        client.setQuery(text)
        graph = client.queryType in ("CONSTRUCT", "DESCRIBE")
        client.setReturnFormat(N3 if graph else JSON)
        if graph:
            client.addCustomHttpHeader("Accept", "application/n-triples")

        def attempt() -> bytes:
            response = client.query().response
            return self._read(response)

        try:
            data = self.policy.run(attempt)
        except SPARQLWrapperException as exc:  # SPARQLWrapper's own names for 400, 401, 404, 414 and 500: all final
            raise self._refused(exc) from exc
        except Exhausted as exc:
            raise StoreError(f"the SPARQL endpoint did not answer after {exc.attempts} attempts: {one_line(str(exc.last))}",
                             where=self.endpoint, hint="check that the server runs and the URL is its query endpoint") from exc
        except urllib.error.HTTPError as exc:
            raise self._final_status(exc) from exc
        except TimeoutError as exc:
            raise StoreError(f"no answer within {self.timeout_s:g} s", where=self.endpoint,
                             hint="not retried: the same query would take as long again; simplify it") from exc
        except TRANSPORT_ERRORS as exc:
            raise StoreError(f"the request failed: {one_line(str(exc))}", where=self.endpoint) from exc
        if graph:
            try:
                return Results(triples=sorted(line for line in data.decode("utf-8").splitlines() if line.strip()))
            except UnicodeDecodeError as exc:
                raise StoreError("the endpoint's answer is not UTF-8 N-Triples", where=self.endpoint) from exc
        try:
            return _parse_json(json.loads(data))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise StoreError(f"the endpoint's answer is not SPARQL JSON results: {one_line(data[:200].decode('utf-8', 'replace'))}",
                             where=self.endpoint, hint="is this URL the store's SPARQL query endpoint?") from exc

    def _read(self, response: Any) -> bytes:
        """The whole answer, within the time limit and the size cap (both final: a retry would not change them)."""
        deadline = time.monotonic() + self.timeout_s
        chunks: list[bytes] = []
        size = 0
        while chunk := response.read(64 * 1024):
            size += len(chunk)
            if size > self.max_result_bytes:
                raise StoreError(f"the endpoint's answer is larger than {self.max_result_bytes} bytes", where=self.endpoint,
                                 hint="narrow the query (LIMIT, fewer variables)")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the answer took more than {self.timeout_s:g} s")
            chunks.append(chunk)
        return b"".join(chunks)

    def _refused(self, exc: Exception) -> SmnpcError:
        from SPARQLWrapper.SPARQLExceptions import EndPointInternalError, EndPointNotFound, QueryBadFormed, Unauthorized, URITooLong

        detail = one_line(str(exc))
        if isinstance(exc, QueryBadFormed):
            return QueryError(f"the endpoint rejected the query (400): {detail}", where=self.endpoint)
        if isinstance(exc, URITooLong):
            return QueryError(f"the query is too long for the endpoint (414): {detail}", where=self.endpoint)
        if isinstance(exc, Unauthorized):
            return StoreError(f"the endpoint refused access (401): {detail}", where=self.endpoint,
                              hint="it needs credentials, which this client does not send")
        if isinstance(exc, EndPointNotFound):
            return StoreError(f"there is no SPARQL endpoint at this URL (404): {detail}", where=self.endpoint,
                              hint="Oxigraph server answers at /query, Virtuoso at /sparql, smnpc-kg serve at /sparql")
        if isinstance(exc, EndPointInternalError):
            return StoreError(f"the endpoint failed (500): {detail}", where=self.endpoint, hint="not retried: see the server's log")
        return StoreError(f"the endpoint's answer could not be used: {detail}", where=self.endpoint)

    def _final_status(self, exc: urllib.error.HTTPError) -> SmnpcError:
        body = http_body(exc)
        if exc.code == 503:
            return StoreError(f"the server stopped the query for its time limit (or its memory limit) and answered 503 without "
                              f"Retry-After{body}", where=self.endpoint,
                              hint="not retried: the same query would be stopped again; simplify it or raise the server's limit")
        if exc.code < 500:
            return QueryError(f"the endpoint answered {exc.code}{body}", where=self.endpoint)
        return StoreError(f"the endpoint answered {exc.code}{body}", where=self.endpoint, hint="not retried")


def _parse_json(doc: Any) -> Results:
    if "boolean" in doc:
        return Results(boolean=bool(doc["boolean"]))
    variables = list(doc["head"].get("vars", []))
    rows = []
    for binding in doc["results"]["bindings"]:
        row = {}
        for var, term in binding.items():
            kind = "literal" if term["type"] == "typed-literal" else term["type"]
            datatype = term.get("datatype")
            if datatype == "http://www.w3.org/2001/XMLSchema#string":
                datatype = None
            row[var] = Term(kind, term["value"], datatype, term.get("xml:lang"))
        rows.append(row)
    return Results(variables=variables, rows=rows)


# ------------------------------------------------------------------ push
def graph_url(graph_store: str, graph: str | None) -> str:
    """The Graph Store Protocol URL of one graph: ``?default`` or ``?graph=IRI``.

    >>> graph_url("http://h/store", None)
    'http://h/store?default'
    >>> graph_url("http://h/store", "urn:x:1")
    'http://h/store?graph=urn%3Ax%3A1'
    """
    query = "default" if graph is None else "graph=" + urllib.parse.quote(graph, safe="")
    return graph_store + ("&" if "?" in graph_store else "?") + query


def _send(method: str, url: str, data: bytes | None, content_type: str | None, timeout_s: float) -> int:
    headers = {"Content-Type": content_type} if content_type else {}
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        response.read(64 * 1024)
        return int(response.status)


def _upload(data: bytes, url: str, graph_store: str, policy: RetryPolicy, timeout_s: float, hint: str) -> int:
    try:
        return policy.run(lambda: _send("PUT", url, data, "application/n-triples", timeout_s))
    except Exhausted as exc:
        raise StoreError(f"the upload failed after {exc.attempts} attempts: {one_line(str(exc.last))}", where=graph_store,
                         hint=hint) from exc
    except urllib.error.HTTPError as exc:
        raise StoreError(f"the store refused the upload with {exc.code}{http_body(exc)}", where=graph_store,
                         hint="is this the store's Graph Store Protocol URL, and is it writable?") from exc
    except TRANSPORT_ERRORS as exc:
        raise StoreError(f"the upload failed: {one_line(str(exc))}", where=graph_store, hint=hint) from exc


def _drop_quietly(graph_store: str, graph: str) -> None:
    """Best effort: remove a staging graph (a failure here changes nothing the user can act on)."""
    with contextlib.suppress(*TRANSPORT_ERRORS):
        _send("DELETE", graph_url(graph_store, graph), None, None, 60.0)


def push(data: bytes, graph_store: str, retries: int = 3, backoff_s: float = 0.5, update: str | None = None,
         timeout_s: float = 600.0) -> int:
    """Replace the default graph of a store with N-Triples; re-running gives the same end state. Returns the last HTTP status.

    With ``update`` (the store's SPARQL Update endpoint): the data goes into a new staging graph by a Graph Store
    PUT, then one update, ``MOVE <staging> TO DEFAULT``, swaps it in. A store that runs each update request in one
    transaction (Oxigraph server does: readers see committed states only) shows readers the old graph or the new one,
    never a part, and a push that fails at any point leaves the old graph. (While the upload runs, the staging graph
    is visible to queries over named graphs, and to the default graph of a server run with --union-default-graph.)

    Without ``update``: one PUT on the default graph, and what readers see meanwhile, or a failed PUT leaves, is the
    store's own guarantee (Oxigraph server 0.5.13 replaces the graph in one transaction; 0.5.9 clears it first).
    """
    policy = RetryPolicy(retries, backoff_s)
    if update is None:
        return _upload(data, graph_url(graph_store, None), graph_store, policy, timeout_s,
                       hint="what a failed PUT leaves is the store's own guarantee; run push again when it is up")
    staging = f"urn:smnpc-kg:push:{uuid.uuid4().hex}"
    try:
        _upload(data, graph_url(graph_store, staging), graph_store, policy, timeout_s,
                hint="the store's graph is unchanged: the upload went to a staging graph; run push again when it is up")
    except StoreError as exc:
        if isinstance(exc.__cause__, urllib.error.HTTPError):  # the store answered, so it can remove what it kept
            _drop_quietly(graph_store, staging)
        raise
    swap = f"MOVE <{staging}> TO DEFAULT".encode()
    for attempt in range(retries + 1):
        try:
            return _send("POST", update, swap, "application/sparql-update", timeout_s)
        except urllib.error.HTTPError as exc:
            _drop_quietly(graph_store, staging)
            raise StoreError(f"the swap failed with {exc.code}{http_body(exc)}; the store's graph is unchanged "
                             "(the staging graph was removed)", where=update,
                             hint="give --update the store's SPARQL Update URL, or --graph-store alone for a plain PUT") from exc
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, ConnectionRefusedError) and attempt < retries:
                time.sleep(backoff_s * 2.0**attempt)  # refused: the swap never reached the store, so trying again is safe
                continue
            _drop_quietly(graph_store, staging)
            raise StoreError(f"the swap failed: {one_line(str(exc))}", where=update,
                             hint="a store that runs each update in one transaction holds the old graph or the new one; "
                                  "run push again") from exc
        except (http.client.HTTPException, OSError) as exc:
            _drop_quietly(graph_store, staging)
            raise StoreError(f"the swap's answer was lost: {one_line(str(exc))}", where=update,
                             hint="not repeated blindly: a store that runs each update in one transaction holds the old graph or "
                                  "the new one; run push again") from exc
    raise AssertionError("unreachable")  # pragma: no cover
