"""The smnpc-kg command line: each command is one library call plus printing."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from smnpc_kg.core.errors import SmnpcError, ValidationError
from smnpc_kg.kg.build import Project
from smnpc_kg.store.embedded import Store


def _project(args: argparse.Namespace) -> Project:
    return Project(Path(args.root)) if args.root else Project.find()


def cmd_build(args: argparse.Namespace) -> int:
    from smnpc_kg.kg.build import build

    project = _project(args)
    counts = build(project, reason=not args.no_reason, out=Path(args.out) if args.out else None)
    out = Path(args.out) if args.out else project.dist
    print(f"built {project.rel(out)}/smnpc-kg.{{ttl,nt,jsonld}}: " +
          ", ".join(f"{v} {k}" for k, v in counts.as_dict().items()))
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """Check extra evidence files against the project without writing anything (for curators)."""
    from smnpc_kg.kg.audit import AuditReport, check_values_in_quotes
    from smnpc_kg.kg.build import assemble
    from smnpc_kg.store.embedded import OxigraphStore

    project = _project(args)
    extra = [Path(p) for p in args.files]
    context = [Path(p) for p in args.context or []]
    graph, _counts = assemble(project, reason=False, extra=[*context, *extra])
    report = AuditReport()
    check_values_in_quotes(OxigraphStore.from_graph(graph), report)
    context_names = {project.rel(p) for p in context}
    report.failures = [f for f in report.failures if f.file not in context_names]
    for f in report.failures:
        print(f"{f.file}: {f.node}: {f.detail}", file=sys.stderr)
    if report.failures:
        return 1
    print(f"ok: {len(extra)} file(s) parse, quotes found, shapes conform, "
          f"{report.checked['value-in-quote']} values printed in their quotes")
    return 0


def cmd_query(args: argparse.Namespace) -> int:
    from smnpc_kg.core.errors import QueryError
    from smnpc_kg.kg.queries import read_query
    from smnpc_kg.present.render import render_results
    from smnpc_kg.web.operation import decide

    project = _project(args)
    store = open_store(project, getattr(args, "endpoint", None))
    # decided on rdflib's parse, as the endpoint does: an update or a query nested too deeply is one line here,
    # never handed to the store (SERVICE stays allowed on the command line)
    decision = decide(read_query(args.query), allow_federation=True)
    if not decision.runs:
        raise QueryError(decision.message)
    results = store.query(decision.text)
    rendered = render_results(results, args.format)
    print(rendered, end="" if rendered.endswith("\n") else "\n")
    return 0


def open_store(project: Project, endpoint: str | None = None) -> Store:
    """The embedded store over dist/, or a remote SPARQL endpoint: every command works the same on both."""
    if endpoint:
        from smnpc_kg.store.remote import RemoteStore

        return RemoteStore(endpoint)
    from smnpc_kg.store.embedded import OxigraphStore

    return OxigraphStore.from_dist(project.dist)


def cmd_demo(args: argparse.Namespace) -> int:
    from smnpc_kg.present.render import render_results
    from smnpc_kg.store.embedded import OxigraphStore

    project = _project(args)
    store = OxigraphStore.from_dist(project.dist)
    for name, title in (("table-1.rq", "Table 1 reproduced from the KG"), ("table-2.rq", "Table 2 reproduced from the KG")):
        text = (project.root / "queries" / name).read_text(encoding="utf-8")
        print(f"\n== {title} (queries/{name})")
        print(render_results(store.query(text), "table"))
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    from smnpc_kg.kg.audit import read_exceptions, render_report, run_audit
    from smnpc_kg.kg.build import assemble
    from smnpc_kg.kg.source import SourceText
    from smnpc_kg.store.embedded import OxigraphStore

    project = _project(args)
    graph, _counts = assemble(project, reason=False)
    report = run_audit(OxigraphStore.from_graph(graph), SourceText.from_file(project.source_file),
                       read_exceptions(project.root / "evidence" / "coverage-exceptions.tsv"), args.threshold)
    print(report.as_json() if args.format == "json" else render_report(report))
    return 0 if report.ok else 1


def load_classifier(project: Project, endpoint: str | None = None) -> object:
    from smnpc_kg.clinical.classify import Classifier, Definitions
    from smnpc_kg.kg.build import parse_turtle

    ontology = parse_turtle(project.ontology_files[0], project.rel(project.ontology_files[0]))
    return Classifier(Definitions(ontology), open_store(project, endpoint))


def cmd_classify(args: argparse.Namespace) -> int:
    from smnpc_kg.clinical.classify import Classifier, hermit_members, render_report, report_json
    from smnpc_kg.clinical.patient import read_patients

    project = _project(args)
    patients = read_patients(Path(args.patient))
    classifier = load_classifier(project, args.endpoint)
    assert isinstance(classifier, Classifier)
    members = None
    if args.reasoner == "hermit":
        members = hermit_members(patients, classifier.definitions.graph, list(classifier.definitions.formulas))
    reports = [classifier.report(p, members[p.id] if members else None, args.reasoner) for p in patients]
    if args.format == "json":
        data = [report_json(r) for r in reports]
        print(json.dumps(data[0] if len(data) == 1 else data, indent=1, ensure_ascii=False))
    else:
        print("\n\n".join(render_report(r) for r in reports))
    return 0


def cmd_recommend(args: argparse.Namespace) -> int:
    from smnpc_kg.clinical.classify import Classifier
    from smnpc_kg.clinical.pathway import Pathway, as_json, render_text
    from smnpc_kg.clinical.patient import read_patients

    project = _project(args)
    patients = read_patients(Path(args.patient))
    classifier = load_classifier(project, args.endpoint)
    assert isinstance(classifier, Classifier)
    pathway = Pathway(classifier.store, classifier.definitions)
    walks = [pathway.walk(p) for p in patients]
    if args.format == "json":
        data = [as_json(w, pathway, args.explain_all) for w in walks]
        print(json.dumps(data[0] if len(data) == 1 else data, indent=1, ensure_ascii=False))
    else:
        print("\n\n".join(render_text(w, pathway, args.explain_all, markdown=args.format == "markdown") for w in walks))
    return 0


def cmd_pathway(args: argparse.Namespace) -> int:
    from smnpc_kg.clinical.classify import Classifier
    from smnpc_kg.clinical.pathway import Pathway
    from smnpc_kg.clinical.patient import read_patients
    from smnpc_kg.kg.dist import output_path
    from smnpc_kg.present.viz import pathway_dot, write_svg

    output_path(Path(args.svg))  # a folder, a device or a path inside a build is refused before any work
    project = _project(args)
    classifier = load_classifier(project)
    assert isinstance(classifier, Classifier)
    pathway = Pathway(classifier.store, classifier.definitions)
    walk = None
    if args.patient:
        patients = read_patients(Path(args.patient))
        if len(patients) != 1:
            raise ValidationError(f"--patient draws one patient's route; the file holds {len(patients)}", where=args.patient,
                                  hint="give a file with one patient")
        walk = pathway.walk(patients[0])
    out = write_svg(pathway_dot(pathway, walk), Path(args.svg))
    print(f"wrote {out}")
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from smnpc_kg.kg.dist import output_path
    from smnpc_kg.present.viz import forest_plot
    from smnpc_kg.store.embedded import OxigraphStore

    output_path(Path(args.out))  # a folder, a device or a path inside a build is refused before any work
    project = _project(args)
    out = forest_plot(OxigraphStore.from_dist(project.dist), Path(args.out))
    print(f"wrote {out}")
    return 0


def cmd_push(args: argparse.Namespace) -> int:
    from smnpc_kg.kg.dist import verified_bytes
    from smnpc_kg.store.remote import push

    project = _project(args)
    nt = project.dist / "smnpc-kg.nt"
    base = args.endpoint.rsplit("/", 1)[0]
    target = args.graph_store or base + "/store"
    update = args.update or (None if args.graph_store else base + "/update")  # Oxigraph server's layout by default
    status = push(verified_bytes(project.dist, nt.name), target, update=update)
    if update:
        print(f"pushed {project.rel(nt)} to a staging graph at {target} and swapped it in with one update at {update} "
              f"(HTTP {status}); query it with --endpoint {args.endpoint}")
    else:
        print(f"pushed {project.rel(nt)} to {target} with a plain PUT (HTTP {status}): what readers saw meanwhile is the "
              f"store's own guarantee (give --update for a swap in one update); query it with --endpoint {args.endpoint}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from smnpc_kg.web.server import Limits, create_app, serve

    project = _project(args)
    limits = Limits(timeout_s=args.timeout, max_result_bytes=args.max_result_bytes, workers=args.workers,
                    allow_federation=args.allow_federation, max_memory_mb=args.max_memory_mb,
                    patient_workers=args.patient_workers)
    # reads the build once, checked against its manifest (a missing, truncated or corrupt build is reported here
    # and never served), and serves those bytes until it stops, whatever later builds do to dist/
    app = create_app(project.dist, project.ontology_files[0], project.root / "queries", limits)
    print(f"serving http://{args.host}:{args.port}/ (SPARQL at /sparql); read-only; Ctrl-C stops", flush=True)
    serve(app, args.host, args.port, limits)
    return 0


def _ontology_with_imports(project: Project) -> object:
    from rdflib import Graph

    from smnpc_kg.kg.build import parse_turtle

    graph = Graph()
    for path in project.ontology_files:
        for triple in parse_turtle(path, project.rel(path)):
            graph.add(triple)
    return graph


def cmd_mappings(args: argparse.Namespace) -> int:
    from rdflib import Graph

    from smnpc_kg.kg.dist import output_path
    from smnpc_kg.kg.mappings import write_sssom

    project = _project(args)
    out = Path(args.out) if args.out else project.root / "ontology" / "mappings.sssom.tsv"
    output_path(out)  # refused before any work; write_sssom writes atomically
    graph = _ontology_with_imports(project)
    assert isinstance(graph, Graph)
    out = write_sssom(graph, out)
    print(f"wrote {out}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from smnpc_kg.kg.export import export

    project = _project(args)
    out = export(project.dist, args.format, Path(args.out))
    print(f"wrote {out}")
    return 0


def cmd_docs(args: argparse.Namespace) -> int:
    from rdflib import Graph

    from smnpc_kg.kg.dist import output_path
    from smnpc_kg.kg.export import documentation

    output_path(Path(args.out))  # refused before any work
    project = _project(args)
    graph = _ontology_with_imports(project)
    assert isinstance(graph, Graph)
    out = documentation(graph, Path(args.out))
    print(f"wrote {out}")
    return 0


def cmd_patient_schema(args: argparse.Namespace) -> int:
    from smnpc_kg.clinical.patient import schema

    print(json.dumps(schema(), indent=2, ensure_ascii=False))
    return 0


COMMANDS: dict[str, tuple[Callable[[argparse.Namespace], int], str]] = {
    "build": (cmd_build, "build the KG into dist/ (SHACL, HermiT, deterministic, atomic)"),
    "check": (cmd_check, "check evidence files against the project without writing"),
    "query": (cmd_query, "run a SPARQL query (a .rq file or the query text)"),
    "audit": (cmd_audit, "audit the KG against the review text: quotes, values, reachability, coverage"),
    "classify": (cmd_classify, "place a patient (JSON or Turtle) in every published stratification, with reasons and evidence"),
    "recommend": (cmd_recommend, "walk the treatment pathway for a patient, with the evidence chain behind every step"),
    "pathway": (cmd_pathway, "draw the treatment pathway as SVG (Graphviz), a patient's route highlighted"),
    "plot": (cmd_plot, "draw a figure: `plot forest OUT.png` is the forest plot of Table 2's hazard ratios"),
    "push": (cmd_push, "load the built KG into a SPARQL 1.1 store (Graph Store Protocol, swapped in by one SPARQL Update)"),
    "serve": (cmd_serve, "serve the KG over the SPARQL 1.1 Protocol (read-only), with a query page, /classify and /recommend"),
    "mappings": (cmd_mappings, "write the SSSOM mapping set from the ontology's skos:*Match triples"),
    "export": (cmd_export, "export the built KG: ttl, nt, jsonld (with its context) or owl (RDF/XML)"),
    "docs": (cmd_docs, "write the ontology's HTML documentation"),
    "patient-schema": (cmd_patient_schema, "print the JSON schema of patient profiles"),
    "demo": (cmd_demo, "print the review's tables reproduced from the built KG"),
}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="smnpc-kg", description="Evidence knowledge graph for smNPC.")
    p.add_argument("--root", help="project root (default: found from the current directory)")
    sub = p.add_subparsers(dest="command", required=True)
    for name, (_fn, help_text) in COMMANDS.items():
        sp = sub.add_parser(name, help=help_text, description=help_text)
        if name == "build":
            sp.add_argument("--no-reason", action="store_true", help="skip the HermiT consistency check")
            sp.add_argument("--out", help="output folder (default: dist/)")
        if name == "check":
            sp.add_argument("files", nargs="+", help="Turtle files to check with the project's evidence")
            sp.add_argument("--context", action="append", help="a Turtle file loaded for reference but not audited")
        if name == "classify":
            sp.add_argument("patient", help="a patient file: JSON (schema smnpc-kg/patient/1.0, one object or a list) or Turtle")
            sp.add_argument("--format", choices=["text", "json"], default="text")
            sp.add_argument("--reasoner", choices=["compiled", "hermit"], default="compiled",
                            help="compiled: the evaluator compiled from the OWL axioms (fast); hermit: the reference OWL reasoner")
        if name == "recommend":
            sp.add_argument("patient", help="a patient file: JSON (schema smnpc-kg/patient/1.0) or Turtle")
            sp.add_argument("--format", choices=["text", "markdown", "json"], default="text")
            sp.add_argument("--explain-all", action="store_true", help="also list the steps that do not apply, and why")
        if name == "pathway":
            sp.add_argument("--svg", required=True, help="the SVG file to write")
            sp.add_argument("--patient", help="a patient file whose route to highlight")
        if name == "plot":
            sp.add_argument("kind", choices=["forest"], help="forest: the hazard ratios of locoregional RT in Table 2")
            sp.add_argument("out", help="the image file to write (PNG)")
        if name in ("query", "classify", "recommend"):
            sp.add_argument("--endpoint", help="a SPARQL 1.1 query endpoint to use instead of the embedded store")
        if name == "push":
            sp.add_argument("--endpoint", required=True, help="the store's SPARQL query endpoint (e.g. http://127.0.0.1:7878/query)")
            sp.add_argument("--graph-store", help="its Graph Store Protocol URL (default: the endpoint's /store, as Oxigraph serves it)")
            sp.add_argument("--update", help="its SPARQL Update URL, for a swap in one update (default: the endpoint's /update, "
                                             "as Oxigraph serves it, unless --graph-store is given alone: then a plain PUT)")
        if name == "mappings":
            sp.add_argument("--out", help="default: ontology/mappings.sssom.tsv")
        if name == "export":
            sp.add_argument("--format", choices=["ttl", "nt", "jsonld", "owl"], required=True)
            sp.add_argument("--out", required=True, help="the file to write")
        if name == "docs":
            sp.add_argument("--out", default="docs/index.html", help="the HTML file to write")
        if name == "serve":
            sp.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
            sp.add_argument("--port", type=int, default=8890)
            sp.add_argument("--timeout", type=float, default=10.0,
                            help="seconds a query or a patient request may run, and a request's head and body may take to arrive")
            sp.add_argument("--max-result-bytes", type=int, default=10 * 2**20)
            sp.add_argument("--workers", type=int, default=2, help="query worker processes")
            sp.add_argument("--patient-workers", type=int, default=2, help="worker processes for /classify and /recommend")
            sp.add_argument("--max-memory-mb", type=int, default=2048,
                            help="address space each worker may use; a request that needs more gets a 503 (0: no limit)")
            sp.add_argument("--allow-federation", action="store_true", help="allow SERVICE (off by default)")
        if name == "audit":
            sp.add_argument("--format", choices=["table", "json"], default="table")
            sp.add_argument("--threshold", type=float, default=95.0, help="minimum coverage in percent")
        if name == "query":
            sp.add_argument("query", help="a .rq file or SPARQL text")
            sp.add_argument("--format", choices=["table", "json", "csv", "tsv"], default="table")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    fn = COMMANDS[args.command][0]
    try:
        return fn(args)
    except ValidationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        for line in exc.details[:50]:
            print(f"  {line}", file=sys.stderr)
        if len(exc.details) > 50:
            print(f"  ... and {len(exc.details) - 50} more", file=sys.stderr)
        return 1
    except SmnpcError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
