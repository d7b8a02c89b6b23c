"""One interface for SPARQL over the built KG: embedded pyoxigraph by default."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple, Protocol

import pyoxigraph as ox
from rdflib import Graph

from smnpc_kg.core.errors import QueryError, StoreError
from smnpc_kg.core.namespaces import PREFIXES, sparql_prologue


class Term(NamedTuple):
    """An RDF term as the SPARQL 1.1 JSON results format describes it (a tuple: cheap to make per binding)."""

    type: str  # "uri" | "literal" | "bnode"
    value: str
    datatype: str | None = None
    lang: str | None = None

    def truth(self) -> bool:
        """An xsd:boolean's value: "true" and "1" are both lexical forms of true (Virtuoso writes "1")."""
        return self.value in ("true", "1")

    def as_json(self) -> dict[str, str]:
        out = {"type": self.type, "value": self.value}
        if self.datatype:
            out["datatype"] = self.datatype
        if self.lang:
            out["xml:lang"] = self.lang
        return out


@dataclass
class Results:
    """SELECT rows (variables + bindings), an ASK answer, or CONSTRUCT triples as N-Triples lines."""

    variables: list[str] = field(default_factory=list)
    rows: list[dict[str, Term]] = field(default_factory=list)
    boolean: bool | None = None
    triples: list[str] | None = None

    def values(self, var: str) -> list[str]:
        """The plain values of one variable, in row order ('' where unbound)."""
        return [row[var].value if var in row else "" for row in self.rows]

    def to_json(self) -> str:
        if self.boolean is not None:
            return json.dumps({"head": {}, "boolean": self.boolean})
        bindings = [{k: t.as_json() for k, t in row.items()} for row in self.rows]
        return json.dumps({"head": {"vars": self.variables}, "results": {"bindings": bindings}}, indent=1)

    def to_delimited(self, delimiter: str) -> str:
        buf = io.StringIO()
        writer = csv.writer(buf, delimiter=delimiter, lineterminator="\n")
        writer.writerow(self.variables)
        for row in self.rows:
            writer.writerow([_plain(row[v]) if v in row else "" for v in self.variables])
        return buf.getvalue()


def _plain(term: Term) -> str:
    """A term as SPARQL 1.1 CSV writes it: blank nodes as _:label, everything else as its value."""
    return f"_:{term.value}" if term.type == "bnode" else term.value


class Store(Protocol):
    """What every consumer (query, classify, recommend, audit) needs of a store."""

    def query(self, sparql: str) -> Results: ...


def _term(node: object) -> Term:
    if isinstance(node, ox.NamedNode):
        return Term("uri", node.value)
    if isinstance(node, ox.BlankNode):
        return Term("bnode", node.value)
    if isinstance(node, ox.Literal):
        lang = node.language
        dt = None if lang else node.datatype.value
        if dt == "http://www.w3.org/2001/XMLSchema#string":
            dt = None
        return Term("literal", node.value, dt, lang)
    raise StoreError(f"unexpected term in results: {node!r}")


def with_prefixes(sparql: str) -> str:
    """Prepend the project's PREFIX lines, so queries may use smo:, study:, NCIT: ... without declaring them."""
    return sparql_prologue() + sparql


class OxigraphStore:
    """The built KG in an in-memory pyoxigraph store.

    >>> s = OxigraphStore.from_turtle('<urn:a> <urn:b> 1 .')
    >>> s.query('SELECT ?o WHERE { <urn:a> <urn:b> ?o }').values('o')
    ['1']
    """

    def __init__(self, store: ox.Store) -> None:
        self._store = store

    @classmethod
    def from_dist(cls, dist: Path) -> OxigraphStore:
        """The build in ``dist``, loaded only if every file matches the build's manifest."""
        from smnpc_kg.kg.dist import verified_bytes

        data = verified_bytes(dist, "smnpc-kg.nt")
        store = ox.Store()
        try:
            store.bulk_load(data, format=ox.RdfFormat.N_TRIPLES)
        except SyntaxError as exc:
            raise StoreError(f"cannot load {dist / 'smnpc-kg.nt'}: {exc}", hint="rebuild with `smnpc-kg build`") from exc
        return cls(store)

    @classmethod
    def from_graph(cls, graph: Graph) -> OxigraphStore:
        store = ox.Store()
        store.bulk_load(graph.serialize(format="nt", encoding="utf-8"), format=ox.RdfFormat.N_TRIPLES)
        return cls(store)

    @classmethod
    def from_turtle(cls, data: str) -> OxigraphStore:
        store = ox.Store()
        store.load(data.encode("utf-8"), format=ox.RdfFormat.TURTLE)
        return cls(store)

    def __len__(self) -> int:
        return len(self._store)

    def query(self, sparql: str) -> Results:
        try:
            answer = self._store.query(sparql, prefixes=PREFIXES, use_default_graph_as_union=True)
        except SyntaxError as exc:
            raise QueryError(f"SPARQL syntax error: {exc}", hint="check the query against the SPARQL 1.1 grammar") from exc
        except (OSError, ValueError, RuntimeError) as exc:
            raise QueryError(f"query failed: {exc}") from exc
        if isinstance(answer, ox.QueryBoolean):
            return Results(boolean=bool(answer))
        if isinstance(answer, ox.QuerySolutions):
            variables = [v.value for v in answer.variables]
            rows = []
            term = _term
            for solution in answer:
                row = {}
                for v, value in zip(variables, solution, strict=True):
                    if value is not None:
                        row[v] = term(value)
                rows.append(row)
            return Results(variables=variables, rows=rows)
        triples = [f"{t.subject} {t.predicate} {t.object} ." for t in answer]
        return Results(triples=sorted(triples))
