"""Remote SPARQL 1.1 endpoints: querying through SPARQLWrapper, and pushing the built KG (Graph Store Protocol)."""

from __future__ import annotations

import http.client
import time
import urllib.error
import urllib.request
from typing import Any

from smnpc_kg.errors import QueryError, StoreError
from smnpc_kg.store import Results, Term, with_prefixes


class RemoteStore:
    """A SPARQL 1.1 endpoint (Oxigraph server, Virtuoso, GraphDB, Fuseki ...) behind the same interface as the embedded store.

    Transient failures (connection refused, 5xx) are retried with exponential backoff; a store that stays
    down gives one clear error.
    """

    def __init__(self, endpoint: str, retries: int = 3, backoff_s: float = 0.5, timeout_s: float = 60.0) -> None:
        self.endpoint = endpoint
        self.retries = retries
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s

    def query(self, sparql: str) -> Results:
        from SPARQLWrapper import JSON, N3, POST, SPARQLWrapper
        from SPARQLWrapper.SPARQLExceptions import QueryBadFormed, SPARQLWrapperException

        # whole-line comments go: SPARQLWrapper guesses the query form from keywords and a header comment
        # ("... does not add up", "describes ...") would fool it into ADD or DESCRIBE
        text = with_prefixes("\n".join(line for line in sparql.splitlines() if not line.lstrip().startswith("#")))
        client = SPARQLWrapper(self.endpoint)
        client.setMethod(POST)
        client.setTimeout(int(self.timeout_s))
        client.setQuery(text)
        kind = client.queryType
        client.setReturnFormat(N3 if kind in ("CONSTRUCT", "DESCRIBE") else JSON)
        if kind in ("CONSTRUCT", "DESCRIBE"):
            client.addCustomHttpHeader("Accept", "application/n-triples")
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            try:
                response = client.query()
                if kind in ("CONSTRUCT", "DESCRIBE"):
                    data = response.response.read().decode("utf-8")
                    return Results(triples=sorted(line for line in data.splitlines() if line.strip()))
                return _parse_json(response.convert())
            except QueryBadFormed as exc:
                raise QueryError(f"the endpoint rejected the query: {str(exc).strip()[:300]}", where=self.endpoint) from exc
            except (urllib.error.URLError, http.client.HTTPException, OSError, SPARQLWrapperException) as exc:  # refused, reset, cut off
                last = exc
                if isinstance(exc, urllib.error.HTTPError) and exc.code < 500:
                    raise QueryError(f"the endpoint answered {exc.code}: {exc.read().decode('utf-8', 'replace')[:300]}",
                                     where=self.endpoint) from exc
                if attempt < self.retries:
                    time.sleep(self.backoff_s * 2**attempt)
        raise StoreError(f"the SPARQL endpoint did not answer after {self.retries + 1} attempts: {last}", where=self.endpoint,
                         hint="check that the server runs and the URL is its query endpoint")


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


def push(data: bytes, graph_store: str, retries: int = 3, backoff_s: float = 0.5) -> int:
    """Replace the default graph of a store with N-Triples (Graph Store Protocol PUT); re-running gives the same end state."""
    url = graph_store + ("&" if "?" in graph_store else "?") + "default"
    last: Exception | None = None
    for attempt in range(retries + 1):
        request = urllib.request.Request(url, data=data, method="PUT", headers={"Content-Type": "application/n-triples"})
        try:
            with urllib.request.urlopen(request, timeout=600) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            if exc.code < 500:
                raise StoreError(f"the store refused the upload with {exc.code}: {exc.read().decode('utf-8', 'replace')[:300]}",
                                 where=graph_store, hint="is this the store's Graph Store Protocol URL, and is it writable?") from exc
            last = exc
        except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:  # refused, reset, cut off mid-answer
            last = exc
        if attempt < retries:
            time.sleep(backoff_s * 2**attempt)
    raise StoreError(f"the upload failed after {retries + 1} attempts: {last}", where=graph_store,
                     hint="the store kept nothing half-written: a PUT replaces the graph whole; run push again when it is up")
