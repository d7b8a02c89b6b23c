"""The query library: reading .rq files, their header comments and the manifest of expected results."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rdflib import Graph

from smnpc_kg.core.errors import QueryError


def read_query(arg: str) -> str:
    """The query text: ``arg`` itself when it holds a query, else the content of the file it names.

    >>> read_query("ASK { ?s ?p ?o }")
    'ASK { ?s ?p ?o }'
    """
    import os

    from smnpc_kg.core.inputs import read_text

    if "{" in arg or "\n" in arg:
        return arg  # query text, not a file name
    path = Path(arg)
    try:
        exists = os.path.lexists(path)
    except (OSError, ValueError):
        exists = False
    if not exists and not (arg.endswith(".rq") or path.suffix):
        return arg
    # a regular file of at most 1 MiB (the endpoint's query limit): a device or FIFO is refused unread
    return read_text(path, what="query file", limit=2**20, error=QueryError,
                     hint="give a path to a .rq file or the SPARQL text itself")


@dataclass
class QueryHeader:
    """The header comment of a library query: '# title:', '# description:', '# keywords:'."""

    title: str
    description: str
    keywords: list[str]


def parse_header(text: str, where: str = "query") -> QueryHeader:
    """Read the '# key: value' lines at the top of a query file.

    >>> parse_header("# title: T\\n# description: D\\n# keywords: a, b\\nSELECT * {}").keywords
    ['a', 'b']
    """
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        key, sep, value = line[1:].partition(":")
        if sep:
            fields[key.strip().lower()] = value.strip()
    missing = [k for k in ("title", "description", "keywords") if not fields.get(k)]
    if missing:
        raise QueryError(f"header comment lacks {', '.join(missing)}", where=where,
                         hint="start the file with '# title: ...', '# description: ...', '# keywords: ...'")
    return QueryHeader(fields["title"], fields["description"],
                       [k.strip() for k in fields["keywords"].split(",") if k.strip()])


@dataclass
class LibraryQuery:
    name: str            # path relative to queries/, without .rq
    path: Path
    header: QueryHeader
    text: str


def library(folder: Path) -> list[LibraryQuery]:
    """The competency questions: every .rq under queries/ except the build's derivation rules."""
    out = []
    for path in sorted(folder.rglob("*.rq")):
        rel = path.relative_to(folder)
        if rel.parts[0] == "derive":
            continue
        text = path.read_text(encoding="utf-8")
        out.append(LibraryQuery(str(rel.with_suffix("")), path, parse_header(text, str(path)), text))
    return out


def examples_graph(folder: Path) -> Graph:
    """The query library as RDF, the SIB sparql-examples way: sh:SPARQLExecutable with rdfs:comment and sh:select."""
    from rdflib import Literal, Namespace, URIRef
    from rdflib.namespace import RDF, RDFS, SH, XSD

    from smnpc_kg.core.namespaces import ID, PREFIXES

    schema = Namespace("https://schema.org/")
    graph = Graph()
    graph.bind("sh", SH)
    graph.bind("schema", schema)
    prefixes = URIRef(f"{ID}query/prefixes")
    graph.add((prefixes, RDF.type, URIRef("http://www.w3.org/2002/07/owl#Ontology")))
    for prefix, iri in sorted(PREFIXES.items()):
        decl = URIRef(f"{ID}query/prefixes#{prefix}")
        graph.add((prefixes, SH.declare, decl))
        graph.add((decl, SH.prefix, Literal(prefix)))
        graph.add((decl, SH.namespace, Literal(iri, datatype=XSD.anyURI)))
    for q in library(folder):
        node = URIRef(f"{ID}query/{q.name}")
        kind = "construct" if "CONSTRUCT" in q.text.upper().split("WHERE")[0] else \
               "ask" if q.text.lstrip("# \n").upper().startswith("ASK") else "select"
        graph.add((node, RDF.type, SH.SPARQLExecutable))
        graph.add((node, RDF.type, SH[f"SPARQL{kind.capitalize()}Executable"]))
        graph.add((node, RDFS.label, Literal(q.header.title)))
        graph.add((node, RDFS.comment, Literal(q.header.description, lang="en")))
        graph.add((node, SH[kind], Literal(q.text)))
        graph.add((node, SH.prefixes, prefixes))
        for keyword in q.header.keywords:
            graph.add((node, schema.keywords, Literal(keyword)))
    return graph
