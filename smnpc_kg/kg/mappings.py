"""External mappings: the ontology's skos:*Match triples written as an SSSOM mapping set, through one prefix map."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from rdflib import Graph, URIRef
from rdflib.namespace import RDFS, SKOS

from smnpc_kg.core.namespaces import SMO, compact_iri, converter

PREDICATES = {SKOS.exactMatch: "skos:exactMatch", SKOS.closeMatch: "skos:closeMatch",
              SKOS.broadMatch: "skos:broadMatch", SKOS.narrowMatch: "skos:narrowMatch"}
COLUMNS = ["subject_id", "subject_label", "predicate_id", "object_id", "object_label", "mapping_justification",
           "author_label", "mapping_date", "comment"]
#: When the mappings were checked against the external ontologies' files (see the import slices' dcterms:source).
CURATION_DATE = dt.date(2026, 11, 29)


def compress(iri: str) -> str:
    """An IRI as a CURIE of the project's prefix map.

    >>> compress("http://purl.obolibrary.org/obo/UO_0000035")
    'UO:0000035'
    """
    curie = compact_iri(iri)
    if curie is None:
        raise ValueError(f"no prefix for {iri}")
    return str(curie)


def mapping_rows(ontology: Graph) -> list[dict[str, str]]:
    """One SSSOM row per verified skos:*Match of an smo: term; labels from the ontology and its import slices."""
    rows = []
    for pred, name in PREDICATES.items():
        for subject, obj in ontology.subject_objects(pred):
            if not (isinstance(subject, URIRef) and str(subject).startswith(str(SMO)) and isinstance(obj, URIRef)):
                continue
            object_label = ontology.value(obj, RDFS.label)
            rows.append({
                "subject_id": compress(str(subject)), "subject_label": str(ontology.value(subject, RDFS.label) or ""),
                "predicate_id": name, "object_id": compress(str(obj)), "object_label": str(object_label or ""),
                "mapping_justification": "semapv:ManualMappingCuration", "author_label": "smnpc-kg curators",
                "mapping_date": CURATION_DATE.isoformat(),
                "comment": "checked against the external ontology's own files or a curated mapping set agreeing with a second source",
            })
    return sorted(rows, key=lambda r: (r["subject_id"], r["predicate_id"], r["object_id"]))


def sssom_text(ontology: Graph) -> str:
    """The mapping set: a YAML metadata block (curie map, id, licence) and the TSV table."""
    rows = mapping_rows(ontology)
    used = {r[c].split(":")[0] for r in rows for c in ("subject_id", "predicate_id", "object_id", "mapping_justification")}
    prefixes = converter().prefix_map
    meta = ["#curie_map:"] + [f"#  {p}: {prefixes[p]}" for p in sorted(used)] + [
        "#mapping_set_id: https://w3id.org/smnpc-kg/mappings/smnpc-kg.sssom.tsv",
        "#mapping_set_description: Mappings of the smnpc-kg ontology to NCIt, MONDO, DOID, UBERON, STATO, OBI, ECO and UO. "
        "Generated from the skos:*Match triples of ontology/smnpc.ttl (smnpc-kg mappings); candidates that could not be "
        "verified are not mappings and stay as smo:unverifiedMatch in the ontology.",
        "#license: https://creativecommons.org/licenses/by/4.0/",
        f"#mapping_date: {CURATION_DATE.isoformat()}",
    ]
    lines = ["\t".join(COLUMNS)] + ["\t".join(r[c] for c in COLUMNS) for r in rows]
    return "\n".join(meta) + "\n" + "\n".join(lines) + "\n"


def write_sssom(ontology: Graph, out: Path) -> Path:
    from smnpc_kg.kg.dist import write_atomic

    write_atomic(out, sssom_text(ontology).encode("utf-8"))
    return out
