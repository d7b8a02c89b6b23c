"""Pictures: the pathway as a Graphviz diagram (a patient's route highlighted) and a forest plot of Table 2."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

from smnpc_kg.clinical.pathway import Pathway, Recommendation
from smnpc_kg.core.errors import SmnpcError
from smnpc_kg.kg.dist import output_path, write_atomic
from smnpc_kg.store.embedded import Store, Term

_FILL = {"applies": "#b7e4c7", "needs facts": "#ffe8a3", "does not apply": "#eeeeee"}
_DIRECTION_EDGE = {"for": "#2d6a4f", "consider": "#1d3557", "with caution": "#e76f51", "against": "#c1121f"}


def pathway_dot(pathway: Pathway, walk: Recommendation | None = None) -> str:
    """The pathway in the DOT language: phases as clusters, steps as boxes, the patient's route in colour."""
    import graphviz

    status = {o.step.step: o.status for o in walk.steps} if walk else {}
    dot = graphviz.Digraph("pathway", graph_attr={"rankdir": "TB", "fontname": "Helvetica", "fontsize": "12",
                                                  "label": f"smNPC treatment pathway{f' for patient {walk.patient}' if walk else ''}",
                                                  "labelloc": "t"},
                           node_attr={"shape": "box", "style": "rounded,filled", "fontname": "Helvetica", "fontsize": "10",
                                      "fillcolor": "white", "width": "3.2"})
    phases: dict[str, list[str]] = {}
    for sid in pathway.order:
        phases.setdefault(pathway.steps[sid].phase, []).append(sid)
    for i, (phase, steps) in enumerate(phases.items()):
        with dot.subgraph(name=f"cluster_{i}") as sub:
            sub.attr(label=phase, style="dashed", color="#999999", fontname="Helvetica")
            for sid in steps:
                step = pathway.steps[sid]
                directions = sorted({pathway.chains[r].direction for r in step.justified_by})
                label = _wrap(step.label, 34) + "\n(" + ", ".join(directions) + ")"
                attrs = {"fillcolor": _FILL.get(status.get(sid, ""), "white")}
                if status.get(sid) == "applies":
                    attrs["penwidth"] = "2.5"
                colour = _DIRECTION_EDGE.get(directions[0], "#333333") if len(directions) == 1 else "#333333"
                sub.node(_id(sid), label, color=colour, **attrs)
    for a, b in pathway.graph.edges:
        on_route = status.get(a) == "applies" and status.get(b) == "applies"
        dot.edge(_id(a), _id(b), color="#2d6a4f" if on_route else "#999999", penwidth="2.5" if on_route else "1")
    if walk:
        with dot.subgraph(name="cluster_legend") as legend:
            legend.attr(label="legend", style="solid", color="#cccccc")
            for state, fill in _FILL.items():
                legend.node(f"legend_{state}", state, fillcolor=fill, shape="box")
    return str(dot.source)


def write_svg(dot_source: str, out: Path) -> Path:
    """Render DOT to SVG with Graphviz's dot, writing atomically (never into a build, a folder or a device)."""
    output_path(out)
    exe = shutil.which("dot")
    if exe is None:
        raise SmnpcError("Graphviz's `dot` program is not installed", hint="install it: apt-get install graphviz (make does this)")
    import graphviz

    try:
        svg = graphviz.pipe("dot", "svg", dot_source.encode("utf-8"), quiet=True)
    except (graphviz.ExecutableNotFound, graphviz.CalledProcessError) as exc:
        raise SmnpcError(f"Graphviz's dot could not draw the pathway: {str(exc).splitlines()[0]}", where=str(out),
                         hint="check the Graphviz installation") from exc
    write_atomic(out, svg)
    return out


def _id(iri: str) -> str:
    return iri.rsplit("/", 1)[-1].replace("-", "_")


def _wrap(text: str, width: int) -> str:
    words, lines, line = text.split(), [], ""
    for w in words:
        if len(line) + len(w) + 1 > width and line:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}".strip()
    lines.append(line)
    return "\n".join(lines)


_HAZARDS = """
SELECT ?study ?ref ?arm ?against ?hr ?p ?prel ?adjusted ?inverse ?quote ?line WHERE {
  ?r smo:statistic smo:HazardRatio ; smo:value ?hr ; smo:cohort ?c ; smo:comparator ?cmp ;
     smo:reportedBy ?s ; prov:wasDerivedFrom ?q .
  ?q smo:section section:table-2 ; oa:exact ?quote ; smo:sourceLine ?line .
  ?c smo:armLabel ?arm . ?cmp smo:armLabel ?against .
  ?s smo:referenceNumber ?ref ; smo:firstAuthor ?study ; prov:wasDerivedFrom ?sq .
  ?sq smo:section section:table-2 ; oa:exact ?sqText . FILTER(STRSTARTS(?sqText, ?study))
  OPTIONAL { ?r smo:pValue ?p ; smo:pValueRelation ?prel }
  OPTIONAL { ?r smo:adjusted ?adjusted }
  # the plot is about locoregional RT: a ratio printed for the arm without it, against the arm with it, is inverted
  BIND(EXISTS { ?cmp smo:intervention smo:LocoregionalRadiotherapy }
       && NOT EXISTS { ?c smo:intervention smo:LocoregionalRadiotherapy } AS ?inverse)
} ORDER BY ?line"""


def hazard_rows(store: Store) -> list[dict[str, Term]]:
    """Table 2's hazard ratios, each with whether it was printed for the arm without locoregional RT (``inverse``)."""
    return store.query(_HAZARDS).rows


def forest_plot(store: Store, out: Path) -> Path:
    """A forest plot of Table 2's hazard ratios, as printed (no confidence intervals are printed); written atomically."""
    output_path(out)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.backend_bases import FigureCanvasBase

    image_format = out.suffix.lstrip(".").lower() or "png"
    if image_format not in FigureCanvasBase.get_supported_filetypes():
        raise SmnpcError(f"matplotlib cannot write .{image_format} images", where=str(out), hint="name the file .png, .svg or .pdf")
    rows = hazard_rows(store)
    if not rows:
        raise SmnpcError("no Table 2 hazard ratios in the KG", hint="build the KG first (smnpc-kg build)")
    fig, ax = plt.subplots(figsize=(9, 0.7 * len(rows) + 1.8))
    labels = []
    for i, row in enumerate(rows):
        y = len(rows) - 1 - i
        hr = float(row["hr"].value)
        inverse = row["inverse"].value == "true"  # read from the arms' interventions, not their labels
        ax.plot([hr], [y], marker="D" if inverse else "s", color="#c1121f" if inverse else "#1d3557", markersize=9)
        p = f", p{row['prel'].value}{row['p'].value}" if "p" in row else ""
        kind = "multivariate HR" if "adjusted" in row and row["adjusted"].value == "true" else "HR"
        ax.annotate(f"{kind} {row['hr'].value}{p}", (hr, y), textcoords="offset points", xytext=(10, -4), fontsize=9)
        comparison = f"{row['arm'].value} vs {row['against'].value}"
        labels.append(f"{row['study'].value} et al (ref {row['ref'].value})\n{comparison}")
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(list(reversed(labels)), fontsize=8)
    ax.axvline(1.0, color="#888888", linestyle="--", linewidth=1)
    ax.set_xscale("log")
    ax.set_xticks([0.25, 0.5, 1, 2, 4])
    ax.set_xticklabels(["0.25", "0.5", "1", "2", "4"])
    from matplotlib.ticker import NullFormatter

    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlim(0.2, 5)
    ax.set_xlabel("hazard ratio (log scale) — < 1 favours the first-named arm")
    ax.set_title("Locoregional RT in smNPC: hazard ratios printed in Table 2 of the review\n"
                 "points only: the review prints no confidence intervals\n"
                 "red diamond: that HR is for chemo alone against chemo + RT (as printed)", fontsize=9)
    fig.tight_layout()
    image = io.BytesIO()
    fig.savefig(image, format=image_format, dpi=150)
    plt.close(fig)
    write_atomic(out, image.getvalue())
    return out
