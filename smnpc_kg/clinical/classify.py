"""Classification: the ontology's defined patient classes, compiled to a fast evaluator and run by HermiT."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from rdflib import Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import OWL, RDFS, XSD

from smnpc_kg.clinical.patient import FIELD_OF, SITES, Patient, Value, refuse_duplicates, to_graph, valid_id
from smnpc_kg.core.errors import ValidationError
from smnpc_kg.core.namespaces import SMO

SITE_OF = {prop: site for site, prop in SITES.items()}

Truth = bool | None  # True, False, or None for unknown (Kleene's three-valued logic)
_FACETS: dict[URIRef, tuple[str, Callable[[Decimal, Decimal], bool]]] = {
    XSD.minInclusive: ("≥", lambda v, b: v >= b), XSD.maxInclusive: ("≤", lambda v, b: v <= b),
    XSD.minExclusive: (">", lambda v, b: v > b), XSD.maxExclusive: ("<", lambda v, b: v < b),
}


@dataclass(frozen=True)
class Atom:
    """One test of one fact: equality with a value, or a range of numbers."""

    prop: str
    value: Value | None = None
    facets: tuple[tuple[str, Decimal], ...] = ()
    shown: str = ""  # how to print the value (an individual's rdfs:label)

    def test(self, facts: dict[str, Value]) -> Truth:
        if self.prop not in facts:
            return None
        have = facts[self.prop]
        if self.value is not None:
            return have == self.value
        if isinstance(have, bool) or not isinstance(have, int | Decimal):
            return False
        number = Decimal(have)
        return all(next(fn for sym, fn in _FACETS.values() if sym == op)(number, bound) for op, bound in self.facets)

    def describe(self) -> str:
        name = FIELD_OF.get(self.prop, self.prop)
        if self.prop in SITE_OF:
            return f"metastatic_sites {'includes' if self.value else 'excludes'} {SITE_OF[self.prop]}"
        if isinstance(self.value, URIRef):
            return f"{name} = {self.shown or self.value}"
        if self.value is not None:
            return f"{name} = {str(self.value).lower()}"
        return " and ".join(f"{name} {op} {bound}" for op, bound in self.facets)


@dataclass(frozen=True)
class Node:
    """An intersection ("and") or a union ("or") of parts; an empty "and" is true."""

    op: str
    parts: tuple[Node | Atom, ...]


Formula = Node | Atom


@dataclass
class Verdict:
    truth: Truth
    criteria: list[str] = field(default_factory=list)  # the tests that made it true
    missing: list[str] = field(default_factory=list)   # the unknown facts that keep it open


def evaluate(formula: Formula, facts: dict[str, Value]) -> Verdict:
    """Three-valued evaluation: True (entailed), False (refuted), None (unknown facts decide).

    >>> evaluate(Node("and", (Atom("lesionCount", 1), Atom("liverLesionCount", 0))), {"lesionCount": 1}).missing
    ['liver_lesion_count']
    """
    if isinstance(formula, Atom):
        truth = formula.test(facts)
        return Verdict(truth, [formula.describe()] if truth else [], [FIELD_OF.get(formula.prop, formula.prop)] if truth is None else [])
    verdicts = [evaluate(part, facts) for part in formula.parts]
    if formula.op == "and":
        if any(v.truth is False for v in verdicts):
            return Verdict(False)
        if any(v.truth is None for v in verdicts):
            return Verdict(None, missing=_union(v.missing for v in verdicts if v.truth is None))
        return Verdict(True, criteria=[c for v in verdicts for c in v.criteria])
    for v in verdicts:
        if v.truth:
            return Verdict(True, criteria=v.criteria)
    if any(v.truth is None for v in verdicts):
        return Verdict(None, missing=_union(v.missing for v in verdicts if v.truth is None))
    return Verdict(False)


def _union(lists: Any) -> list[str]:
    out: list[str] = []
    for items in lists:
        out += [i for i in items if i not in out]
    return out


class Definitions:
    """The defined patient classes of an ontology graph, compiled from their owl:equivalentClass axioms."""

    def __init__(self, ontology: Graph) -> None:
        self.graph = ontology
        self._members: Callable[[dict[str, Value]], list[int]] | None = None
        self.formulas: dict[URIRef, Formula] = {}
        for cls in sorted(set(ontology.subjects(RDFS.subClassOf, SMO.PatientClass)), key=str):
            if isinstance(cls, URIRef):
                self.formulas[cls] = self._class(cls)

    def _class(self, cls: URIRef) -> Formula:
        if cls == SMO.Patient:
            return Node("and", ())
        definition = self.graph.value(cls, OWL.equivalentClass)
        if definition is None:
            raise ValidationError(f"{cls} has no owl:equivalentClass to compile", where="ontology/smnpc.ttl",
                                  hint="a patient class needs a definition over the patient facts")
        return self._expr(definition)

    def _expr(self, node: Any) -> Formula:
        g = self.graph
        if isinstance(node, URIRef):
            return self._class(node)
        for op, pred in (("and", OWL.intersectionOf), ("or", OWL.unionOf)):
            members = g.value(node, pred)
            if members is not None:
                return Node(op, tuple(self._expr(m) for m in Collection(g, members)))
        prop = g.value(node, OWL.onProperty)
        if prop is None:
            raise ValidationError(f"cannot compile class expression {node}", where="ontology/smnpc.ttl",
                                  hint="patient classes use intersectionOf, unionOf, hasValue and datatype ranges")
        local = str(prop)[len(str(SMO)):]
        value = g.value(node, OWL.hasValue)
        if value is not None:
            if isinstance(value, URIRef):
                return Atom(local, value, shown=str(g.value(value, RDFS.label) or value))
            return Atom(local, _python(value))
        datatype = g.value(node, OWL.someValuesFrom)
        facets = []
        for restriction in Collection(g, g.value(datatype, OWL.withRestrictions)):
            for facet, (symbol, _fn) in _FACETS.items():
                bound = g.value(restriction, facet)
                if bound is not None:
                    facets.append((symbol, Decimal(str(bound))))
        return Atom(local, None, tuple(facets))

    @property
    def _classes(self) -> list[URIRef]:
        return list(self.formulas)

    def label(self, cls: URIRef) -> str:
        return str(self.graph.value(cls, RDFS.label) or cls)

    def classify(self, patient: Patient) -> dict[URIRef, Verdict]:
        return {cls: evaluate(f, patient.facts) for cls, f in self.formulas.items()}

    def members(self, patient: Patient) -> set[URIRef]:
        """The classes the patient is entailed to belong to (what a reasoner would infer), by the generated code."""
        if self._members is None:
            self._members = generate_python(self.formulas)
        classes = self._classes
        return {classes[i] for i, truth in enumerate(self._members(patient.facts)) if truth == 2}


def generate_python(formulas: dict[URIRef, Formula]) -> Callable[[dict[str, Value]], list[int]]:
    """Python source generated from the compiled axioms: one function that decides every class at once.

    Truth values are numbers ordered False (0) < unknown (1) < True (2), so Kleene's "and" is min() and
    "or" is max(); each distinct fact test is computed once and shared by every class that uses it.
    """
    lines = ["def members(f):", "    g = f.get"]
    atoms: dict[Atom, str] = {}
    constants: dict[str, object] = {"Decimal": Decimal}

    def atom(a: Atom) -> str:
        if a in atoms:
            return atoms[a]
        name = f"a{len(atoms)}"
        atoms[a] = name
        if isinstance(a.value, bool):
            test = f"(2 if v is {a.value} else 0)"
        elif a.value is not None:
            constants[f"k_{name}"] = a.value
            test = f"(2 if v == k_{name} else 0)"
        else:
            checks = []
            for i, (op, bound) in enumerate(a.facets):
                constants[f"b_{name}_{i}"] = bound
                checks.append(f"v {op.replace('≥', '>=').replace('≤', '<=')} b_{name}_{i}")
            test = f"(2 if (v.__class__ is int or v.__class__ is Decimal) and {' and '.join(checks)} else 0)"
        lines.append(f"    v = g({a.prop!r}); {name} = 1 if v is None else {test}")
        return name

    def expr(f: Formula) -> str:
        if isinstance(f, Atom):
            return atom(f)
        if not f.parts:
            return "2"
        parts = [expr(p) for p in f.parts]
        if len(parts) == 1:
            return parts[0]
        return f"{'min' if f.op == 'and' else 'max'}({', '.join(parts)})"

    results = [expr(f) for f in formulas.values()]
    lines.append(f"    return [{', '.join(results)}]")
    namespace: dict[str, Any] = dict(constants)
    exec(compile("\n".join(lines), "<smnpc_kg generated classifier>", "exec"), namespace)
    fn: Callable[[dict[str, Value]], list[int]] = namespace["members"]
    return fn


def _python(value: Any) -> Value:
    py = value.toPython() if isinstance(value, Literal) else value
    if isinstance(py, bool | int | str):
        return py
    return Decimal(str(py))


def hermit_members(patients: list[Patient], ontology: Graph, classes: list[URIRef], batch: int = 100) -> dict[str, set[URIRef]]:
    """The reference path: HermiT (through owlready2) infers each patient's classes among ``classes``.

    Patients are independent individuals, so they are reasoned over in batches (HermiT's time grows
    faster than linearly with the number of individuals in one ABox).
    """
    for p in patients:  # each id becomes an IRI in the reasoner's ABox, and names the patient's answer
        if not valid_id(p.id):
            raise ValidationError(f"patient id {p.id!r} is not a valid id", where=p.source or None,
                                  hint="an id is 1 to 64 letters, digits, '-' and '_' (see the patient schema)")
    refuse_duplicates(patients, [p.source or f"[{i}]" for i, p in enumerate(patients)], "patients")
    out: dict[str, set[URIRef]] = {}
    for start in range(0, len(patients), batch):
        out.update(_hermit_batch(patients[start:start + batch], ontology, classes))
    return out


def _hermit_batch(patients: list[Patient], ontology: Graph, classes: list[URIRef]) -> dict[str, set[URIRef]]:
    import owlready2

    from smnpc_kg.kg.reason import _load_world

    merged = Graph()
    for triple in ontology:
        merged.add(triple)
    for triple in to_graph(patients):
        merged.add(triple)
    wanted = {str(c) for c in classes}
    with tempfile.TemporaryDirectory(prefix="smnpc-classify-") as tmp:
        world, onto = _load_world(merged, Path(tmp))
        with onto:
            owlready2.sync_reasoner_hermit(world, infer_property_values=False, debug=0)
        out: dict[str, set[URIRef]] = {}
        for p in patients:
            ind = world[str(p.iri)]
            found: set[URIRef] = set()
            for cls in getattr(ind, "is_a", []):
                for anc in getattr(cls, "ancestors", lambda: set())():
                    iri = getattr(anc, "iri", None)
                    if iri in wanted:
                        found.add(URIRef(iri))
            out[p.id] = found
    return out


# ------------------------------------------------------------------ reports: a patient against every published scheme
@dataclass
class Outcome:
    text: str          # "median OS 46 months"
    quote: str
    line: int
    section: str
    result: str


@dataclass
class GroupReport:
    scheme: str
    scheme_label: str
    reference: int
    pmid: str
    status: str                      # "classified", "not classifiable", "outside definitions", "not applicable"
    group: str = ""
    group_label: str = ""
    group_class: str = ""
    definition: str = ""
    criteria: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    rests_on: list[str] = field(default_factory=list)
    disagreement: str = ""


@dataclass
class PatientReport:
    patient: str
    label: str
    schemes: list[GroupReport]
    classes: dict[str, Verdict]       # every clinical class (label -> verdict)
    reasoner: str = "compiled"


_SCHEMES = """
SELECT ?scheme ?schemeLabel ?applies ?group ?groupLabel ?definition ?cls ?ref ?pmid ?order WHERE {
  ?scheme a smo:StratificationScheme ; rdfs:label ?schemeLabel ; smo:proposedBy ?study .
  OPTIONAL { ?scheme smo:appliesTo ?applies }
  ?group smo:inScheme ?scheme ; smo:groupClass ?cls ; smo:groupLabel ?groupLabel ; smo:groupDefinition ?definition ; smo:order ?order .
  ?study smo:referenceNumber ?ref . OPTIONAL { ?study bibo:pmid ?pmid }
} ORDER BY ?ref ?scheme ?order"""

_OUTCOMES = """
SELECT ?group ?result ?measure ?statistic ?value ?lo ?hi ?unit ?tp ?quote ?line ?section WHERE {
  ?result smo:cohort ?group ; smo:outcomeMeasure ?m ; smo:statistic ?st ; smo:unit ?u ; prov:wasDerivedFrom ?q .
  ?group smo:groupClass ?cls .
  FILTER(?m != smo:Threshold)
  ?m rdfs:label ?measure . ?st rdfs:label ?statistic . ?u rdfs:label ?unit .
  ?q oa:exact ?quote ; smo:sourceLine ?line ; smo:section ?section .
  OPTIONAL { ?result smo:value ?value } OPTIONAL { ?result smo:lowValue ?lo ; smo:highValue ?hi }
  OPTIONAL { ?result smo:timePoint ?tp }
} ORDER BY ?group ?line"""


def _short(label: str) -> str:
    return label[label.index("(") + 1:label.index(")")] if "(" in label else label


def outcome_text(row: dict[str, Any]) -> str:
    """A result as a clinician reads it: "median OS 46 months", "3-year OS 54.5–72.7%"."""
    value = row["value"].value if "value" in row else f"{row['lo'].value}–{row['hi'].value}"
    unit = row["unit"].value
    shown = f"{value}%" if unit == "percent" else f"{value} {unit}s" if unit in ("month", "year") else f"{value} {unit}"
    measure = _short(row["measure"].value)
    if "tp" in row:
        return f"{row['tp'].value}-year {measure} {shown}"
    return f"{row['statistic'].value} {measure} {shown}"


class Classifier:
    """Places patients in every published scheme and clinical class, with reasons and the evidence behind."""

    def __init__(self, definitions: Definitions, store: Any) -> None:
        self.definitions = definitions
        self.store = store
        self.rows = store.query(_SCHEMES).rows
        self.outcomes: dict[str, list[Outcome]] = {}
        seen: set[str] = set()
        for row in store.query(_OUTCOMES).rows:
            key = row["result"].value
            if key in seen:
                continue
            seen.add(key)
            self.outcomes.setdefault(row["group"].value, []).append(
                Outcome(outcome_text(row), row["quote"].value, int(row["line"].value), row["section"].value.rsplit("/", 1)[1], key))
        group_classes = {URIRef(r["cls"].value) for r in self.rows}
        self.clinical = [c for c in definitions.formulas if c not in group_classes]

    def rests_on(self, cls: URIRef) -> list[str]:
        g = self.definitions.graph
        notes = []
        for param in g.objects(cls, SMO.restsOnParameter):
            notes.append(f"parameter {g.value(param, RDFS.label)} = {g.value(param, SMO.parameterValue)} (the review leaves it undefined)")
        notes += [str(r) for r in g.objects(cls, SMO.restsOnReading)]
        return notes

    def report(self, patient: Patient, members: set[URIRef] | None = None, reasoner: str = "compiled") -> PatientReport:
        """``members``: the classes a reasoner (HermiT) inferred; by default the compiled evaluator decides."""
        verdicts = self.definitions.classify(patient)
        if members is not None:
            for cls, verdict in verdicts.items():
                if (cls in members) != bool(verdict.truth):
                    raise ValidationError(f"HermiT and the compiled evaluator disagree on {self.definitions.label(cls)} for {patient.id}",
                                          hint="report this: the compiled definitions no longer follow the ontology")
        schemes: dict[str, list[dict[str, Any]]] = {}
        for row in self.rows:
            schemes.setdefault(row["scheme"].value, []).append(row)
        reports = [self._scheme(rows, verdicts) for rows in schemes.values()]
        classes = {self.definitions.label(c): verdicts[c] for c in self.clinical}
        return PatientReport(patient.id, patient.label, reports, classes, reasoner)

    def _scheme(self, rows: list[dict[str, Any]], verdicts: dict[URIRef, Verdict]) -> GroupReport:
        first = rows[0]
        base = GroupReport(first["scheme"].value, first["schemeLabel"].value, int(first["ref"].value),
                           first["pmid"].value if "pmid" in first else "", "")
        applies = URIRef(first["applies"].value) if "applies" in first else SMO.Patient
        if applies != SMO.Patient:
            v = verdicts[applies]
            if v.truth is False:
                base.status = "not applicable"
                base.missing = []
                base.rests_on = [f"the scheme is for {self.definitions.label(applies)} only"]
                return base
            if v.truth is None:
                base.status, base.missing = "not classifiable", v.missing
                base.rests_on = [f"the scheme is for {self.definitions.label(applies)} only"]
                return base
        true_rows = [r for r in rows if verdicts[URIRef(r["cls"].value)].truth]
        if true_rows:
            r = true_rows[0]
            cls = URIRef(r["cls"].value)
            base.status = "classified"
            base.group, base.group_label, base.group_class = r["group"].value, r["groupLabel"].value, str(cls)
            base.definition = r["definition"].value
            base.criteria = verdicts[cls].criteria
            base.outcomes = self.outcomes.get(r["group"].value, [])
            base.rests_on = self.rests_on(cls)
            texts = {o.text for o in base.outcomes}
            if len(texts) > 1:
                base.disagreement = "the review prints different values for this group: " + " / ".join(
                    f"{o.text} ({o.section}, line {o.line})" for o in base.outcomes)
            if len(true_rows) > 1:
                base.disagreement = (base.disagreement + "; " if base.disagreement else "") + \
                    "the patient meets the definitions of more than one group: " + ", ".join(x["groupLabel"].value for x in true_rows)
            return base
        open_rows = [r for r in rows if verdicts[URIRef(r["cls"].value)].truth is None]
        if open_rows:
            base.status = "not classifiable"
            base.missing = _union(verdicts[URIRef(r["cls"].value)].missing for r in open_rows)
            base.rests_on = _union(self.rests_on(URIRef(r["cls"].value)) for r in open_rows)
            return base
        base.status = "outside definitions"
        base.rests_on = _union(self.rests_on(URIRef(r["cls"].value)) for r in rows)
        return base


def render_report(report: PatientReport) -> str:
    """The classification as text: per scheme the group, why, the published outcome and its quote."""
    title = f"Patient {report.patient}" + (f" — {report.label}" if report.label else "")
    lines = [title, "=" * len(title), f"(groups decided by the {report.reasoner} reasoner)"]
    for s in report.schemes:
        pmid = f", PMID {s.pmid}" if s.pmid else ""
        lines.append(f"\n{s.scheme_label} [reference {s.reference}{pmid}]")
        if s.status == "classified":
            lines.append(f"  group     {s.group_label}: {s.definition}")
            lines.append(f"  because   {'; '.join(s.criteria)}")
            for o in s.outcomes:
                lines.append(f"  outcome   {o.text}   ({o.section}, line {o.line}: \"{_clip(o.quote)}\")")
        elif s.status == "not classifiable":
            lines.append(f"  not classifiable: unknown {', '.join(s.missing)}")
        elif s.status == "not applicable":
            lines.append("  not applicable")
        else:
            lines.append("  outside the scheme's printed definitions: no group's definition fits these facts")
        for note in s.rests_on:
            lines.append(f"  rests on  {note}")
        if s.disagreement:
            lines.append(f"  note      {s.disagreement}")
    lines.append("\nClinical classes")
    for label, v in report.classes.items():
        state = "yes" if v.truth else "no" if v.truth is False else f"unknown (needs {', '.join(v.missing)})"
        because = f"  [{'; '.join(v.criteria)}]" if v.truth else ""
        lines.append(f"  {label:<58} {state}{because}")
    return "\n".join(lines)


def _clip(text: str, width: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def report_json(report: PatientReport) -> dict[str, Any]:
    from dataclasses import asdict

    out = asdict(report)
    out["classes"] = {k: {"member": v.truth, "criteria": v.criteria, "missing": v.missing} for k, v in report.classes.items()}
    return out
