"""External mappings: the SSSOM set is generated from the ontology and valid; labels are in the import slices; exports load."""

from __future__ import annotations

from pathlib import Path

import pytest
from rdflib import Graph, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import RDFS, SKOS

from smnpc_kg.kg.build import Counts, Project
from smnpc_kg.kg.export import documentation, export
from smnpc_kg.kg.mappings import mapping_rows, sssom_text

ROOT = Path(__file__).resolve().parent.parent
SSSOM = ROOT / "ontology" / "mappings.sssom.tsv"


@pytest.fixture(scope="module")
def ontology(project: Project) -> Graph:
    graph = Graph()
    for path in project.ontology_files:
        graph.parse(path)
    return graph


def test_sssom_file_is_generated_from_the_ontology(ontology: Graph) -> None:
    assert SSSOM.read_text(encoding="utf-8") == sssom_text(ontology), "run `smnpc-kg mappings` after changing skos:*Match triples"


def test_sssom_py_validates_the_mapping_set() -> None:
    from sssom.parsers import parse_sssom_table
    from sssom.validators import validate

    msdf = parse_sssom_table(SSSOM)
    table = [line for line in SSSOM.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    assert len(msdf.df) == len(table) - 1  # every row of the table but its header is a mapping
    validate(msdf)  # raises on an invalid set
    assert set(msdf.df["mapping_justification"]) == {"semapv:ManualMappingCuration"}


def test_every_mapped_external_term_has_its_label_in_an_import_slice(ontology: Graph) -> None:
    rows = mapping_rows(ontology)
    assert len(rows) >= 30
    imports = Graph()
    for path in sorted((ROOT / "ontology" / "imports").glob("*.ttl")):
        imports.parse(path)
    for row in rows:
        prefix, local = row["object_id"].split(":")
        iri = URIRef(f"http://purl.obolibrary.org/obo/{prefix}_{local}")
        assert row["object_label"], row
        assert str(imports.value(iri, RDFS.label)) == row["object_label"], row["object_id"]


def test_no_unverified_candidate_is_a_mapping(ontology: Graph) -> None:
    from smnpc_kg.core.namespaces import SMO

    mapped = {o for p in (SKOS.exactMatch, SKOS.closeMatch, SKOS.broadMatch, SKOS.narrowMatch) for o in ontology.objects(None, p)}
    candidates = set(ontology.objects(None, SMO.unverifiedMatch))
    assert candidates and not (mapped & candidates)


def test_owl_export_loads_in_owlready2_and_round_trips(built: tuple[Path, Counts], tmp_path: Path) -> None:
    import owlready2

    out = export(built[0], "owl", tmp_path / "smnpc-kg.owl")
    world = owlready2.World()
    onto = world.get_ontology(out.as_uri()).load()
    assert onto.search_one(iri="https://w3id.org/smnpc-kg/ontology#SynchronousMetastaticNPC") is not None
    original = Graph().parse(built[0] / "smnpc-kg.nt", format="nt")
    assert isomorphic(Graph().parse(out, format="xml"), original)


def test_jsonld_export_with_context_round_trips(built: tuple[Path, Counts], tmp_path: Path) -> None:
    import json

    out = export(built[0], "jsonld", tmp_path / "smnpc-kg.jsonld")
    ctx = json.loads((tmp_path / "context.jsonld").read_text(encoding="utf-8"))["@context"]
    assert ctx["smo"] == "https://w3id.org/smnpc-kg/ontology#" and ctx["UBERON"] == "http://purl.obolibrary.org/obo/UBERON_"
    assert isomorphic(Graph().parse(out, format="json-ld"), Graph().parse(built[0] / "smnpc-kg.nt", format="nt"))


def test_documentation_lists_terms_with_definitions_and_mappings(ontology: Graph, tmp_path: Path) -> None:
    page = documentation(ontology, tmp_path / "index.html").read_text(encoding="utf-8")
    assert 'id="Liver"' in page and "UBERON:0002107 (liver)" in page
    assert "unverified candidate NCIT:C376" in page
    assert page.count("<tr id=") > 300
