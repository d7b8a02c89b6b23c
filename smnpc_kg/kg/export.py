"""Exports for other tools: Turtle, N-Triples, JSON-LD (with its context) and OWL as RDF/XML; and HTML documentation."""

from __future__ import annotations

import html
import json
from pathlib import Path

from rdflib import Graph, URIRef
from rdflib.namespace import OWL, RDF, RDFS, SKOS

from smnpc_kg.core.errors import SmnpcError
from smnpc_kg.core.namespaces import PREFIXES, SMO, compact_iri
from smnpc_kg.kg.dist import output_path, verified_bytes, write_atomic, write_files

FORMATS = {"ttl": "turtle", "nt": "nt", "jsonld": "json-ld", "owl": "xml"}  # each export and its rdflib parser name
CONTEXT = "context.jsonld"  # the JSON-LD export's context, written beside it


def context() -> dict[str, object]:
    """The JSON-LD context: the project's prefix map."""
    return {"@context": dict(sorted(PREFIXES.items()))}


def export(dist: Path, fmt: str, out: Path) -> Path:
    """The built KG in another serialisation; OWL is RDF/XML for Protégé and OWL API tools.

    Turtle, N-Triples and JSON-LD are the build's own canonical files (checked against its manifest); RDF/XML
    is written by pyoxigraph from the canonical N-Triples, triple by triple in their sorted order, so that the
    same KG always exports to the same bytes. Every output path (for JSON-LD also ``context.jsonld`` beside it)
    is checked before anything is read or written, and each file is written atomically.
    """
    if fmt not in FORMATS:
        raise SmnpcError(f"unknown export format {fmt!r}", hint=f"use one of {', '.join(FORMATS)}")
    target = output_path(out)
    if fmt == "jsonld" and output_path(out.with_name(CONTEXT)) == target:
        raise SmnpcError(f"the JSON-LD export writes its context to {CONTEXT} beside it", where=str(out),
                         hint="give the export another file name")
    if fmt == "owl":
        import pyoxigraph as ox

        triples = ox.parse(verified_bytes(dist, "smnpc-kg.nt"), format=ox.RdfFormat.N_TRIPLES)
        data = ox.serialize(triples, format=ox.RdfFormat.RDF_XML, prefixes=dict(sorted(PREFIXES.items()))) or b""
    else:
        data = verified_bytes(dist, f"smnpc-kg.{fmt}")
    files = {out: data}
    if fmt == "jsonld":
        files[out.with_name(CONTEXT)] = (json.dumps(context(), indent=1) + "\n").encode("utf-8")
    write_files(files)
    return out


def documentation(ontology: Graph, out: Path) -> Path:
    """One HTML page: every class and property of the ontology with label, definition, parents and mappings."""
    def curie(node: object) -> str:
        return compact_iri(str(node)) or str(node)

    sections = []
    for title, kinds in (("Classes", [OWL.Class]), ("Object properties", [OWL.ObjectProperty]),
                         ("Datatype properties", [OWL.DatatypeProperty]), ("Annotation properties", [OWL.AnnotationProperty]),
                         ("Named individuals", [OWL.NamedIndividual])):
        terms = sorted({s for k in kinds for s in ontology.subjects(RDF.type, k)
                        if isinstance(s, URIRef) and str(s).startswith(str(SMO))}, key=str)
        rows = []
        for term in terms:
            local = str(term)[len(str(SMO)):]
            parents = ", ".join(f'<a href="#{html.escape(str(p)[len(str(SMO)):])}">{html.escape(curie(p))}</a>' if str(p).startswith(str(SMO))
                                else html.escape(curie(p)) for p in sorted(ontology.objects(term, RDFS.subClassOf), key=str) if isinstance(p, URIRef))
            maps = []
            for pred in (SKOS.exactMatch, SKOS.closeMatch, SKOS.broadMatch, SKOS.narrowMatch):
                for obj in sorted(ontology.objects(term, pred), key=str):
                    label = ontology.value(obj, RDFS.label)
                    maps.append(f"{curie(pred)} {html.escape(curie(obj))}" + (f" ({html.escape(str(label))})" if label else ""))
            for obj in sorted(ontology.objects(term, SMO.unverifiedMatch), key=str):
                maps.append(f"unverified candidate {html.escape(curie(obj))}")
            rows.append(f'<tr id="{html.escape(local)}"><td><code>smo:{html.escape(local)}</code></td>'
                        f"<td>{html.escape(str(ontology.value(term, RDFS.label) or ''))}</td>"
                        f"<td>{html.escape(str(ontology.value(term, SKOS.definition) or ''))}</td>"
                        f"<td>{parents}</td><td>{'<br>'.join(maps)}</td></tr>")
        sections.append(f"<h2>{title} ({len(terms)})</h2><table><tr><th>term</th><th>label</th><th>definition</th>"
                        f"<th>parents</th><th>mappings</th></tr>{''.join(rows)}</table>")
    onto = URIRef("https://w3id.org/smnpc-kg/ontology")
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(str(ontology.value(onto, URIRef('http://purl.org/dc/terms/title'))))}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2rem}} table{{border-collapse:collapse;font-size:.85rem}}
td,th{{border:1px solid #ccc;padding:.25rem .5rem;vertical-align:top}} th{{background:#eee}}</style></head><body>
<h1>{html.escape(str(ontology.value(onto, URIRef('http://purl.org/dc/terms/title'))))}</h1>
<p>{html.escape(str(ontology.value(onto, URIRef('http://purl.org/dc/terms/description'))))}</p>
<p>Version {html.escape(str(ontology.value(onto, OWL.versionInfo)))}; licence
{html.escape(str(ontology.value(onto, URIRef('http://purl.org/dc/terms/license'))))}; namespace <code>{SMO}</code>.</p>
{''.join(sections)}</body></html>
"""
    write_atomic(out, page.encode("utf-8"))
    return out
