"""Build the KG: load ontology and evidence, locate quotes, validate, reason, write dist/."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDF, XSD
from rdflib.plugins.parsers.notation3 import BadSyntax

from smnpc_kg.core.errors import ParseError, SourceError, ValidationError
from smnpc_kg.core.namespaces import ID, OA, PREFIXES, SMO
from smnpc_kg.kg.dist import build_target, publish
from smnpc_kg.kg.source import SOURCE_RELPATH, SourceText


@dataclass
class Project:
    """Where a project's inputs and outputs live."""

    root: Path

    @classmethod
    def find(cls, start: Path | None = None) -> Project:
        """The project whose root holds ontology/smnpc.ttl: $SMNPC_KG_ROOT, the cwd or a parent, else the package's repo."""
        env = os.environ.get("SMNPC_KG_ROOT")
        candidates = [Path(env)] if env else []
        here = (start or Path.cwd()).resolve()
        candidates += [here, *here.parents, Path(__file__).resolve().parents[2]]
        for path in candidates:
            if (path / "ontology" / "smnpc.ttl").is_file():
                return cls(path)
        raise ParseError("no smnpc-kg project found (no ontology/smnpc.ttl)", where=str(here),
                         hint="run inside the repository or set SMNPC_KG_ROOT")

    @property
    def ontology_files(self) -> list[Path]:
        imports = sorted((self.root / "ontology" / "imports").glob("*.ttl"))
        return [self.root / "ontology" / "smnpc.ttl", *imports]

    @property
    def shapes_file(self) -> Path:
        return self.root / "ontology" / "shapes.ttl"

    @property
    def evidence_files(self) -> list[Path]:
        evidence = self.root / "evidence"
        return sorted(evidence.glob("*.ttl")) + sorted((evidence / "studies").glob("*.ttl"))

    @property
    def source_file(self) -> Path:
        return self.root / SOURCE_RELPATH

    @property
    def dist(self) -> Path:
        return self.root / "dist"

    def rel(self, path: Path) -> str:
        try:
            return str(path.resolve().relative_to(self.root.resolve()))
        except ValueError:
            return str(path)


@dataclass
class LoadedKG:
    """The merged graph and, for error messages, which file each subject came from."""

    graph: Graph
    origin: dict[URIRef, str] = field(default_factory=dict)

    def where(self, node: object) -> str:
        return self.origin.get(node, "?") if isinstance(node, URIRef) else "?"


def parse_turtle(path: Path, label: str | None = None) -> Graph:
    """Parse one Turtle file; a syntax error names the file and line.

    >>> parse_turtle(Path("/nonexistent.ttl"))
    Traceback (most recent call last):
    ...
    smnpc_kg.core.errors.ParseError: /nonexistent.ttl: cannot read file: No such file or directory (check the path)
    """
    from smnpc_kg.core.inputs import read_text  # a regular file of bounded size; a device or FIFO is refused unread

    name = label or str(path)
    return parse_turtle_text(read_text(path, name=name), name, path.resolve().as_uri())


def parse_turtle_text(data: str, name: str, base: str) -> Graph:
    """Parse Turtle text already read (``name`` for messages, ``base`` for relative IRIs), as parse_turtle does."""
    graph = Graph()
    _syntax_check(data, name)
    try:
        graph.parse(data=data, format="turtle", publicID=base)
    except BadSyntax as exc:
        line = getattr(exc, "lines", 0) + 1
        why = getattr(exc, "_why", str(exc))
        raise ParseError(f"Turtle syntax error: {why}", where=f"{name}:{line}",
                         hint="fix the statement on that line (a missing '.', ';' or quote is common)") from exc
    except Exception as exc:  # rdflib raises assorted errors for bad IRIs, literals and prefixes
        raise ParseError(f"Turtle error: {exc}", where=name, hint="check prefixes and IRIs") from exc
    return graph


def ontology_terms(project: Project) -> set[URIRef]:
    """The smo: IRIs the ontology declares (as subjects)."""
    graph = parse_turtle(project.ontology_files[0], project.rel(project.ontology_files[0]))
    return {s for s in graph.subjects() if isinstance(s, URIRef) and str(s).startswith(str(SMO))}


def _syntax_check(data: str, name: str) -> None:
    """Oxigraph's strict Turtle parser pins a syntax error to its line and column."""
    import pyoxigraph as ox

    try:
        for _ in ox.parse(data.encode("utf-8"), format=ox.RdfFormat.TURTLE, base_iri="file:///x"):
            pass
    except SyntaxError as exc:
        detail = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], tuple) else None
        line, col = (detail[1], detail[2]) if detail else (exc.lineno or 0, exc.offset or 0)
        message = str(exc.args[0]) if exc.args else str(exc)
        why = message.split(": ", 1)[1] if ": " in message else message
        raise ParseError(f"Turtle syntax error: {why}", where=f"{name}:{line}:{col}",
                         hint="fix the statement there (a missing '.', ';', quote or prefix is common)") from exc


def load(project: Project, extra: list[Path] | None = None) -> LoadedKG:
    """Parse ontology and evidence into one graph, remembering each subject's file."""
    merged = Graph()
    for prefix, iri in PREFIXES.items():
        merged.bind(prefix, iri, override=True)
    origin: dict[URIRef, str] = {}
    typed: dict[URIRef, str] = {}
    for path in [*project.ontology_files, *project.evidence_files, *(extra or [])]:
        rel = project.rel(path)
        part = parse_turtle(path, rel)
        for s in part.subjects(RDF.type, None, unique=True):  # where a node is typed is where it is curated
            if isinstance(s, URIRef) and s not in typed:
                typed[s] = rel
        for s in part.subjects(unique=True):
            if isinstance(s, URIRef) and s not in origin:
                origin[s] = rel
        for triple in part:
            merged.add(triple)
    origin.update(typed)
    return LoadedKG(merged, origin)


def check_vocabulary(kg: LoadedKG, ontology_terms: set[URIRef]) -> None:
    """Every smo: term the evidence uses is defined in the ontology (a misspelt term is an error)."""
    ns = str(SMO)
    unknown: dict[URIRef, str] = {}
    for s, p, o in kg.graph:
        for term in (p, o) if not isinstance(s, URIRef) or not str(s).startswith(ns) else (p,):
            if isinstance(term, URIRef) and str(term).startswith(ns) and term not in ontology_terms:
                unknown.setdefault(term, kg.where(s))
    if unknown:
        details = sorted(f"{where}: unknown term smo:{str(t)[len(ns):]}" for t, where in unknown.items())
        raise ValidationError(f"{len(unknown)} term(s) not defined in ontology/smnpc.ttl", details=details,
                              hint="fix the spelling, or add the term (with label and definition) to the ontology")


def record_origin(kg: LoadedKG) -> None:
    """Tell auditors which file curates each evidence node (smo:curatedIn)."""
    for node, rel in kg.origin.items():
        if str(node).startswith(str(ID)):
            kg.graph.add((node, SMO.curatedIn, Literal(rel)))


def locate_quotes(kg: LoadedKG, source: SourceText) -> int:
    """Find every quote in the source text and add its line, offsets, prefix and suffix."""
    g = kg.graph
    missing: list[str] = []
    count = 0
    for quote in sorted({q for q in g.subjects(RDF.type, SMO.Quote) if isinstance(q, URIRef)}):
        exact = g.value(quote, OA.exact)
        if exact is None:
            continue  # SHACL reports the missing oa:exact
        try:
            match = source.locate(str(exact))
        except SourceError:
            missing.append(f"{kg.where(quote)}: {quote.n3(g.namespace_manager)} oa:exact {str(exact)[:70]!r}")
            continue
        count += 1
        g.add((quote, OA.prefix, Literal(match.prefix)))
        g.add((quote, OA.suffix, Literal(match.suffix)))
        g.add((quote, OA.start, Literal(match.start, datatype=XSD.nonNegativeInteger)))
        g.add((quote, OA.end, Literal(match.end, datatype=XSD.nonNegativeInteger)))
        g.add((quote, SMO.sourceLine, Literal(source.line_of(match.start))))
        g.add((quote, SMO.occurrences, Literal(match.occurrences)))
    if missing:
        raise SourceError(f"{len(missing)} quote(s) not found in {SOURCE_RELPATH}:\n  " + "\n  ".join(missing),
                          hint="copy the words exactly as the review prints them; line breaks and break hyphens may be left out")
    return count


def validate_shapes(kg: LoadedKG, shapes_path: Path, label: str) -> None:
    """SHACL-validate the merged graph; a violation names the node, its file and the fix."""
    from pyshacl import validate

    shapes = parse_turtle(shapes_path, label)
    conforms, report, _text = validate(kg.graph, shacl_graph=shapes, inference="none", advanced=True,
                                       allow_warnings=True)
    if conforms:
        return
    assert isinstance(report, Graph)
    sh = "http://www.w3.org/ns/shacl#"
    details: list[str] = []
    for res in report.subjects(RDF.type, URIRef(sh + "ValidationResult")):
        focus = report.value(res, URIRef(sh + "focusNode"))
        path = report.value(res, URIRef(sh + "resultPath"))
        msg = report.value(res, URIRef(sh + "resultMessage"))
        nm = kg.graph.namespace_manager
        focus_txt = focus.n3(nm) if focus is not None else "?"
        path_txt = f" {path.n3(nm)}" if isinstance(path, URIRef) else ""
        details.append(f"{kg.where(focus)}: {focus_txt}{path_txt}: {msg}")
    details.sort()
    raise ValidationError(f"{len(details)} SHACL violation(s)", where=label,
                          hint="fix the records named below", details=details)


def derive(graph: Graph, project: Project) -> int:
    """Run the derivation rules (queries/derive/*.rq, SPARQL CONSTRUCT) and add what they infer."""
    import pyoxigraph as ox

    from smnpc_kg.store.embedded import with_prefixes

    rules = sorted((project.root / "queries" / "derive").glob("*.rq"))
    if not rules:
        return 0
    store = ox.Store()
    store.bulk_load(graph.serialize(format="nt", encoding="utf-8"), format=ox.RdfFormat.N_TRIPLES)
    added = 0
    for rule in rules:
        try:
            triples = store.query(with_prefixes(rule.read_text(encoding="utf-8")))
        except SyntaxError as exc:
            raise ParseError(f"SPARQL syntax error in a derivation rule: {exc}", where=project.rel(rule)) from exc
        data = ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES) or b""  # type: ignore[arg-type]
        part = Graph().parse(data=data.decode("utf-8"), format="nt")
        added += len(part - graph)
        for triple in part:
            graph.add(triple)
    return added


@dataclass
class Counts:
    triples: int
    studies: int
    results: int
    quotes: int
    findings: int
    recommendations: int

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def count(graph: Graph) -> Counts:
    def n(cls: URIRef) -> int:
        return len(set(graph.subjects(RDF.type, cls)))

    studies = {s for s, _, o in graph.triples((None, RDF.type, None)) if (s, SMO.referenceNumber, None) in graph}
    return Counts(len(graph), len(studies), n(SMO.Result), n(SMO.Quote), n(SMO.Finding), n(SMO.Recommendation))


def canonical(graph: Graph) -> Graph:
    """The graph with canonical blank-node labels, its triples added in sorted order and the project's prefixes bound."""
    from rdflib.compare import to_canonical_graph

    sorted_graph = Graph()
    for prefix, iri in PREFIXES.items():
        sorted_graph.bind(prefix, iri, override=True)
    for triple in sorted(to_canonical_graph(graph)):
        sorted_graph.add(triple)
    return sorted_graph


def serialize(graph: Graph) -> dict[str, bytes]:
    """The three dist serialisations, each the same bytes for the same graph."""
    sorted_graph = canonical(graph)
    nt_lines = sorted(line for line in sorted_graph.serialize(format="nt").splitlines() if line.strip())
    nt = ("\n".join(nt_lines) + "\n").encode("utf-8")
    ttl = sorted_graph.serialize(format="turtle").encode("utf-8")
    context = {p: iri for p, iri in PREFIXES.items()}
    jsonld_text = sorted_graph.serialize(format="json-ld", context=context, sort_keys=True, indent=1)
    doc = json.loads(jsonld_text)
    graph_nodes = doc.get("@graph", [])
    graph_nodes.sort(key=lambda node: json.dumps(node, sort_keys=True))
    jsonld = (json.dumps(doc, sort_keys=True, indent=1, ensure_ascii=False) + "\n").encode("utf-8")
    return {"smnpc-kg.ttl": ttl, "smnpc-kg.nt": nt, "smnpc-kg.jsonld": jsonld}


def assemble(project: Project, *, reason: bool = True, extra: list[Path] | None = None) -> tuple[Graph, Counts]:
    """Everything but the writing: load, locate quotes, SHACL, consistency. Raises on any problem."""
    kg = load(project, extra)
    check_vocabulary(kg, ontology_terms(project))
    source = SourceText.from_file(project.source_file)
    locate_quotes(kg, source)
    record_origin(kg)
    validate_shapes(kg, project.shapes_file, project.rel(project.shapes_file))
    derive(kg.graph, project)
    if reason:
        from smnpc_kg.kg.reason import check_consistency

        check_consistency(kg.graph)
    # the query library as SHACL SPARQL executables, so that the endpoint serves its examples (added after reasoning:
    # they describe queries, not the domain)
    from smnpc_kg.kg.queries import examples_graph

    for triple in examples_graph(project.root / "queries"):
        kg.graph.add(triple)
    return kg.graph, count(kg.graph)


def build(project: Project, *, reason: bool = True, out: Path | None = None) -> Counts:
    """Build the KG into dist/ (or ``out``); nothing is written unless every check passes.

    ``out`` is checked first (:func:`smnpc_kg.kg.dist.build_target`: a new path, an empty folder or a build, never
    the project or a folder with other files), so that a refused path costs no build.
    """
    target = out or project.dist
    build_target(target, protect=[project.root])
    graph, counts = assemble(project, reason=reason)
    publish(serialize(graph), counts.as_dict(), target, protect=[project.root])
    return counts
