"""Printing query results: a readable table, or SPARQL JSON, CSV or TSV for machines."""

from __future__ import annotations

from smnpc_kg.core.namespaces import compact_iri
from smnpc_kg.store.embedded import Results, Term


def compact(term: Term) -> str:
    """A term as a person reads it: IRIs as CURIEs where a prefix fits, literals as their text.

    >>> compact(Term("uri", "https://w3id.org/smnpc-kg/id/study/ref16"))
    'study:ref16'
    """
    if term.type != "uri":
        return term.value
    curie = compact_iri(term.value)
    return curie if curie is not None else f"<{term.value}>"


def render_table(results: Results) -> str:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    if results.boolean is not None:
        return "yes" if results.boolean else "no"
    if results.triples is not None:
        return "\n".join(results.triples)
    table = Table(box=box.SIMPLE_HEAVY, show_lines=False)
    for var in results.variables:
        table.add_column(var, overflow="fold")
    for row in results.rows:
        table.add_row(*[compact(row[v]) if v in row else "" for v in results.variables])
    console = Console(width=200, record=True, color_system=None, force_terminal=False)
    with console.capture() as capture:
        console.print(table)
    lines = [line.rstrip() for line in capture.get().splitlines()]
    return "\n".join(line for line in lines if line) + f"\n{len(results.rows)} row(s)"


def render_results(results: Results, fmt: str) -> str:
    if fmt == "json":
        return results.to_json()
    if fmt == "csv":
        return results.to_delimited(",")
    if fmt == "tsv":
        return results.to_delimited("\t")
    return render_table(results)
