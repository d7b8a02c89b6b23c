"""The ontology: documented terms, header, OWL 2 DL consistency, and the Python vocabulary in sync."""

from __future__ import annotations

import pytest
from rdflib import Graph, URIRef
from rdflib.namespace import DCTERMS, OWL, RDF, RDFS, SKOS

from smnpc_kg.core.namespaces import SMO
from smnpc_kg.kg.reason import check_consistency

NS = str(SMO)


@pytest.fixture(scope="module")
def onto(project) -> Graph:  # type: ignore[no-untyped-def]
    return Graph().parse(project.ontology_files[0])


def own_terms(onto: Graph, kind: URIRef) -> list[URIRef]:
    return sorted(s for s in onto.subjects(RDF.type, kind) if isinstance(s, URIRef) and str(s).startswith(NS))


@pytest.mark.parametrize("kind", [OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty, OWL.NamedIndividual])
def test_every_term_has_label_and_definition(onto: Graph, kind: URIRef) -> None:
    terms = own_terms(onto, kind)
    assert terms
    missing = [t for t in terms if not onto.value(t, RDFS.label) or not onto.value(t, SKOS.definition)]
    assert not missing, f"add rdfs:label and skos:definition to: {missing}"


def test_header(onto: Graph) -> None:
    o = URIRef("https://w3id.org/smnpc-kg/ontology")
    assert (o, RDF.type, OWL.Ontology) in onto
    for p in (OWL.versionIRI, DCTERMS.title, DCTERMS.license, DCTERMS.description):
        assert onto.value(o, p) is not None, f"ontology header lacks {p}"


def test_python_vocabulary_matches_ontology(onto: Graph) -> None:
    declared = {str(s)[len(NS):] for s in onto.subjects() if isinstance(s, URIRef) and str(s).startswith(NS)}
    in_code = set(SMO.__annotations__)
    assert declared == in_code, f"only in ontology: {sorted(declared - in_code)}; only in code: {sorted(in_code - declared)}"
    with pytest.raises(AttributeError):
        _ = SMO.NoSuchTerm


def test_ontology_alone_is_consistent_under_hermit(onto: Graph) -> None:
    assert check_consistency(onto) == []


def test_unsatisfiable_class_is_reported(onto: Graph) -> None:
    from smnpc_kg.core.errors import ValidationError

    g = Graph()
    for t in onto:
        g.add(t)
    bad = URIRef(NS + "Impossible")
    g.add((bad, RDF.type, OWL.Class))
    g.add((bad, RDFS.subClassOf, SMO.ClinicalTrial))
    g.add((bad, RDFS.subClassOf, SMO.ObservationalStudy))
    with pytest.raises(ValidationError, match="unsatisfiable") as err:
        check_consistency(g)
    assert str(bad) in err.value.details
