"""The traceability audit: every number in the KG is printed in its quote, and the quote in the source."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import PROV, RDF, XSD

from smnpc_kg.namespaces import BIBO, OA, SMO
from smnpc_kg.source import SourceText, printed_in, squash

NUMERIC = {XSD.integer, XSD.decimal, XSD.double, XSD.float, XSD.nonNegativeInteger, XSD.positiveInteger, XSD.int}
#: Literals the build computes or curators use for ordering: not claims of the review.
NOT_FROM_TEXT = {SMO.order, SMO.sourceLine, SMO.occurrences, OA.start, OA.end}
#: String literals that hold numbers printed in the review (checked like numbers).
PRINTED_STRINGS = {BIBO.pmid}


@dataclass
class Failure:
    check: str
    node: str
    file: str
    detail: str


@dataclass
class AuditReport:
    failures: list[Failure] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failures


def quotes_of(graph: Graph, node: URIRef) -> list[str]:
    return [str(graph.value(q, OA.exact) or "") for q in graph.objects(node, PROV.wasDerivedFrom)
            if (q, RDF.type, SMO.Quote) in graph]


def check_values_in_quotes(graph: Graph, origin: dict[URIRef, str], report: AuditReport) -> None:
    """Every numeric literal of a quoted node is printed in one of the node's quotes."""
    checked = 0
    nm = graph.namespace_manager
    for node in sorted({s for s in graph.subjects(PROV.wasDerivedFrom, None) if isinstance(s, URIRef)}):
        quotes = quotes_of(graph, node)
        if not quotes:
            continue
        for pred, obj in sorted(graph.predicate_objects(node)):
            if not isinstance(obj, Literal) or pred in NOT_FROM_TEXT:
                continue
            if obj.datatype in NUMERIC:
                value: Decimal | str = Decimal(str(obj))
            elif pred in PRINTED_STRINGS:
                value = str(obj)
            else:
                continue
            checked += 1
            found = any(value in q if isinstance(value, str) else printed_in(value, q) for q in quotes)
            if not found:
                shown = " | ".join(squash(q)[:120] for q in quotes)
                report.failures.append(Failure(
                    "value-in-quote", node.n3(nm), origin.get(node, "?"),
                    f"{pred.n3(nm)} {obj} is not printed in its quote: {shown!r}"))
    report.checked["value-in-quote"] = checked


def check_quotes_in_source(graph: Graph, origin: dict[URIRef, str], source: SourceText,
                           report: AuditReport) -> None:
    """Every quote occurs verbatim in the source (after folding white space and break hyphens)."""
    checked = 0
    nm = graph.namespace_manager
    for quote in sorted({q for q in graph.subjects(RDF.type, SMO.Quote) if isinstance(q, URIRef)}):
        exact = graph.value(quote, OA.exact)
        checked += 1
        if exact is None or not source.find_all(str(exact)):
            report.failures.append(Failure("quote-in-source", quote.n3(nm), origin.get(quote, "?"),
                                           f"not found in the source: {squash(str(exact or ''))[:120]!r}"))
    report.checked["quote-in-source"] = checked
