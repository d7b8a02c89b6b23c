"""OWL reasoning with HermiT (through owlready2): consistency and unsatisfiable classes."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from rdflib import Graph

from smnpc_kg.core.errors import ValidationError


def _load_world(graph: Graph, workdir: Path) -> tuple[Any, Any]:
    import owlready2

    nt = workdir / "kg.nt"
    # owlready2 reads N-Triples, RDF/XML or OWL/XML, not Turtle.
    graph.serialize(destination=str(nt), format="nt", encoding="utf-8")
    world = owlready2.World()
    onto = world.get_ontology(nt.as_uri()).load()
    return world, onto


def check_consistency(graph: Graph) -> list[str]:
    """Run HermiT on the graph; raise ValidationError if it is inconsistent or has unsatisfiable classes.

    Returns the (empty) list of unsatisfiable classes on success.
    """
    import owlready2

    with tempfile.TemporaryDirectory(prefix="smnpc-hermit-") as tmp:
        world, onto = _load_world(graph, Path(tmp))
        try:
            with onto:
                owlready2.sync_reasoner_hermit(world, infer_property_values=False, debug=0)
        except owlready2.OwlReadyInconsistentOntologyError as exc:
            raise ValidationError("the ontology and evidence are inconsistent under HermiT",
                                  hint="look for an individual typed with two disjoint classes, or a functional property with two values") from exc
        except owlready2.OwlReadyJavaError as exc:
            raise ValidationError(f"HermiT could not run: {str(exc).strip()[:300]}",
                                  hint="HermiT needs Java (java -version) and an OWL 2 DL input") from exc
        unsat = sorted(str(c.iri) for c in world.inconsistent_classes() if c is not owlready2.Nothing)
    if unsat:
        raise ValidationError(f"{len(unsat)} unsatisfiable class(es) under HermiT", details=unsat,
                              hint="an unsatisfiable class has contradictory axioms; fix its subClassOf/equivalentClass")
    return unsat
