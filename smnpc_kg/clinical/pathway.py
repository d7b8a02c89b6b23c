"""The treatment pathway: walk evidence/pathway.ttl for a patient and show the evidence chain of each step."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import networkx as nx
from rdflib import URIRef

from smnpc_kg.clinical.classify import Definitions, Verdict, evaluate
from smnpc_kg.clinical.patient import Patient
from smnpc_kg.core.errors import ValidationError
from smnpc_kg.core.namespaces import SMO
from smnpc_kg.store.embedded import Store

_STEPS = """
SELECT ?step ?label ?action ?order ?phaseLabel ?phaseOrder ?applies ?next ?rec ?treatment ?side WHERE {
  ?step a smo:PathwayStep ; rdfs:label ?label ; smo:action ?action ; smo:order ?order ;
        smo:phase ?phase ; smo:appliesTo ?applies ; smo:justifiedBy ?rec .
  ?phase rdfs:label ?phaseLabel ; smo:order ?phaseOrder .
  OPTIONAL { ?step smo:nextStep ?next }
  OPTIONAL { ?step smo:recommends ?treatment }
  OPTIONAL { ?step smo:sideBySide ?side }
}"""

_RECS = """
SELECT ?rec ?label ?statement ?direction ?strength ?level ?levelRank ?eco ?direct ?quote ?line WHERE {
  ?rec a smo:Recommendation ; rdfs:label ?label ; smo:statement ?statement ;
       smo:direction/rdfs:label ?direction ; smo:evidenceLevel ?lvl ; prov:wasDerivedFrom ?q .
  ?lvl rdfs:label ?level ; smo:rank ?levelRank .
  OPTIONAL { ?lvl smo:evidenceType ?eco }
  OPTIONAL { ?rec smo:strength/rdfs:label ?strength }
  OPTIONAL { ?rec smo:directEvidence ?direct }
  ?q oa:exact ?quote ; smo:sourceLine ?line .
} ORDER BY ?rec ?line"""

_FINDINGS = """
SELECT ?rec ?finding ?statement ?population ?study ?studyLabel ?ref ?pmid ?quote ?line WHERE {
  { ?rec smo:supportedBy ?finding } UNION { ?step smo:sideBySide ?finding . BIND(?step AS ?rec) }
  ?finding smo:statement ?statement ; smo:reportedBy ?study ; prov:wasDerivedFrom ?q .
  ?q oa:exact ?quote ; smo:sourceLine ?line .
  ?study rdfs:label ?studyLabel .
  OPTIONAL { ?study smo:referenceNumber ?ref } OPTIONAL { ?study bibo:pmid ?pmid }
  OPTIONAL { ?finding smo:population/rdfs:label ?population }
} ORDER BY ?rec ?finding ?ref ?line"""

_RESULTS = """
SELECT ?finding ?result ?label ?cohort ?quote ?line WHERE {
  ?finding smo:basedOn ?result .
  ?result rdfs:label ?label ; smo:cohort ?c ; prov:wasDerivedFrom ?q .
  OPTIONAL { ?c rdfs:label ?cohort }
  ?q oa:exact ?quote ; smo:sourceLine ?line .
} ORDER BY ?finding ?result"""


@dataclass
class Quote:
    text: str
    line: int


@dataclass
class Evidence:
    """A result a finding rests on: its label (value and arm) and its quote."""

    result: str
    label: str
    cohort: str
    quote: Quote


@dataclass
class FindingChain:
    finding: str
    statement: str
    population: str
    studies: list[str]          # "reference 26 (PMID ...): label"
    quotes: list[Quote]
    results: list[Evidence] = field(default_factory=list)


@dataclass
class RecommendationChain:
    recommendation: str
    label: str
    statement: str
    direction: str
    strength: str
    evidence_level: str
    evidence_level_rank: int
    evidence_type: str
    direct_smnpc_evidence: bool
    quotes: list[Quote]
    findings: list[FindingChain]


@dataclass
class Step:
    step: str
    label: str
    action: str
    order: int
    phase: str
    phase_order: int
    applies_to: list[str]
    justified_by: list[str]
    recommends: list[str]
    side_by_side: list[str]
    next_steps: list[str]


@dataclass
class StepOutcome:
    step: Step
    status: str                     # "applies", "does not apply", "needs facts"
    because: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    not_met: list[str] = field(default_factory=list)


@dataclass
class Recommendation:
    patient: str
    label: str
    steps: list[StepOutcome]

    def applicable(self) -> list[StepOutcome]:
        return [s for s in self.steps if s.status == "applies"]


class Pathway:
    """The pathway graph and the evidence chains, read once from a store; walked per patient."""

    def __init__(self, store: Store, definitions: Definitions) -> None:
        self.definitions = definitions
        self.steps: dict[str, Step] = {}
        for row in store.query(_STEPS).rows:
            sid = row["step"].value
            step = self.steps.setdefault(sid, Step(sid, row["label"].value, row["action"].value, int(row["order"].value),
                                                   row["phaseLabel"].value, int(row["phaseOrder"].value), [], [], [], [], []))
            for var, target in (("applies", step.applies_to), ("rec", step.justified_by), ("next", step.next_steps),
                                ("treatment", step.recommends), ("side", step.side_by_side)):
                if var in row and row[var].value not in target:
                    target.append(row[var].value)
        for step in self.steps.values():  # a fixed order, whatever order the store answers in
            for items in (step.applies_to, step.justified_by, step.next_steps, step.recommends, step.side_by_side):
                items.sort()
            for cls in step.applies_to:
                if URIRef(cls) not in definitions.formulas and URIRef(cls) != SMO.Patient:
                    raise ValidationError(f"step {step.step} applies to {cls}, which is not a defined patient class",
                                          where="evidence/pathway.ttl", hint="use a class with an owl:equivalentClass over patient facts")
        self.graph = nx.DiGraph()
        for sid, step in self.steps.items():
            self.graph.add_node(sid)
            for nxt in step.next_steps:
                self.graph.add_edge(sid, nxt)
        if not nx.is_directed_acyclic_graph(self.graph):
            cycle = nx.find_cycle(self.graph)
            raise ValidationError(f"the pathway has a cycle: {' -> '.join(a for a, _ in cycle)}", where="evidence/pathway.ttl",
                                  hint="smo:nextStep must lead forward")
        key = {sid: (s.phase_order, s.order, sid) for sid, s in self.steps.items()}
        self.order = list(nx.lexicographical_topological_sort(self.graph, key=lambda n: key[n]))
        self.chains = self._chains(store)
        self._chain_dicts: tuple[dict[str, dict[str, Any]], dict[str, list[dict[str, Any]]]] | None = None

    def _chains(self, store: Store) -> dict[str, RecommendationChain]:
        results: dict[str, list[Evidence]] = {}
        for row in store.query(_RESULTS).rows:
            results.setdefault(row["finding"].value, []).append(Evidence(
                row["result"].value, row["label"].value, row["cohort"].value if "cohort" in row else "",
                Quote(row["quote"].value, int(row["line"].value))))
        findings: dict[str, dict[str, FindingChain]] = {}
        for row in store.query(_FINDINGS).rows:
            by_rec = findings.setdefault(row["rec"].value, {})
            fid = row["finding"].value
            chain = by_rec.setdefault(fid, FindingChain(fid, row["statement"].value,
                                                        row["population"].value if "population" in row else "", [], [],
                                                        results.get(fid, [])))
            ref = f"reference {row['ref'].value}" if "ref" in row else "the review itself"
            pmid = f", PMID {row['pmid'].value}" if "pmid" in row else ""
            study = f"{ref}{pmid}: {row['studyLabel'].value}"
            if study not in chain.studies:
                chain.studies.append(study)
            quote = Quote(row["quote"].value, int(row["line"].value))
            if quote not in chain.quotes:
                chain.quotes.append(quote)
        for by_rec in findings.values():
            for chain in by_rec.values():
                chain.studies.sort()
                chain.quotes.sort(key=lambda q: (q.line, q.text))
        for evidence in results.values():
            evidence.sort(key=lambda e: (e.quote.line, e.result))
        findings = {rid: dict(sorted(by_rec.items())) for rid, by_rec in findings.items()}
        chains: dict[str, RecommendationChain] = {}
        for row in store.query(_RECS).rows:
            rid = row["rec"].value
            rchain = chains.get(rid)
            if rchain is None:
                rchain = chains[rid] = RecommendationChain(
                    rid, row["label"].value, row["statement"].value, row["direction"].value,
                    row["strength"].value if "strength" in row else "", row["level"].value, int(row["levelRank"].value),
                    row["eco"].value if "eco" in row else "", row["direct"].truth() if "direct" in row else False,
                    [], list(findings.get(rid, {}).values()))
            rchain.quotes.append(Quote(row["quote"].value, int(row["line"].value)))
        for step in self.steps.values():
            missing = [r for r in step.justified_by if r not in chains]
            if missing:
                raise ValidationError(f"step {step.step} is justified by {missing[0]}, which has no evidence chain",
                                      where="evidence/pathway.ttl", hint="rebuild the KG (evidence levels are derived by the build)")
        for rchain in chains.values():
            rchain.quotes.sort(key=lambda q: (q.line, q.text))
        self.side = {sid: list(findings.get(sid, {}).values()) for sid in self.steps}
        return chains

    def chain_dicts(self) -> tuple[dict[str, dict[str, Any]], dict[str, list[dict[str, Any]]]]:
        if self._chain_dicts is None:
            self._chain_dicts = ({r: asdict(c) for r, c in self.chains.items()},
                                 {s: [asdict(f) for f in fs] for s, fs in self.side.items() if fs})
        return self._chain_dicts

    def walk(self, patient: Patient) -> Recommendation:
        """Every step in pathway order, with whether it applies to the patient and why."""
        verdicts: dict[str, Verdict] = {}
        outcomes = []
        for sid in self.order:
            step = self.steps[sid]
            because: list[str] = []
            missing: list[str] = []
            not_met: list[str] = []
            for cls in step.applies_to:
                if cls not in verdicts:
                    formula = self.definitions.formulas.get(URIRef(cls))
                    verdicts[cls] = evaluate(formula, patient.facts) if formula is not None else Verdict(True, ["any patient"])
                v = verdicts[cls]
                label = self.definitions.label(URIRef(cls)) if URIRef(cls) in self.definitions.formulas else "any patient"
                if v.truth:
                    because.append(f"{label}: {'; '.join(v.criteria)}")
                elif v.truth is None:
                    missing += [m for m in v.missing if m not in missing]
                else:
                    not_met.append(label)
            status = "does not apply" if not_met else "needs facts" if missing else "applies"
            outcomes.append(StepOutcome(step, status, because, missing, not_met))
        return Recommendation(patient.id, patient.label, outcomes)


# ------------------------------------------------------------------ output
def as_json(rec: Recommendation, pathway: Pathway, explain_all: bool = False) -> dict[str, Any]:
    """A walk as JSON-ready data; the evidence chains are shared, read-only dicts built once per pathway."""
    chains, sides = pathway.chain_dicts()
    steps = []
    for outcome in rec.steps:
        if outcome.status != "applies" and not explain_all:
            continue
        steps.append({
            "step": outcome.step.step, "label": outcome.step.label, "action": outcome.step.action,
            "phase": outcome.step.phase, "status": outcome.status, "because": outcome.because,
            "missing_facts": outcome.missing, "not_met": outcome.not_met,
            "recommendations": [chains[r] for r in outcome.step.justified_by],
            "side_by_side": sides.get(outcome.step.step, []),
        })
    return {"patient": rec.patient, "label": rec.label, "steps": steps}


def _clip(text: str, width: int = 110) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _chain_lines(chain: RecommendationChain, indent: str, bullet: str) -> list[str]:
    direct = "direct smNPC evidence" if chain.direct_smnpc_evidence else "evidence borrowed from other settings"
    lines = [f"{indent}{bullet} recommendation: {chain.label} — {chain.direction}, {chain.strength or 'strength not stated'}; "
             f"{chain.evidence_level}; {direct}"]
    for q in chain.quotes:
        lines.append(f"{indent}    review, line {q.line}: \"{_clip(q.text)}\"")
    for f in chain.findings:
        lines.append(f"{indent}    {bullet} finding: {f.statement}")
        for s in f.studies:
            lines.append(f"{indent}        study: {s}")
        for q in f.quotes[:1]:
            lines.append(f"{indent}        line {q.line}: \"{_clip(q.text)}\"")
        for r in f.results:
            lines.append(f"{indent}        result: {r.label} (line {r.quote.line})")
    return lines


def render_text(rec: Recommendation, pathway: Pathway, explain_all: bool = False, markdown: bool = False) -> str:
    bullet = "-" if markdown else "·"
    title = f"Pathway for patient {rec.patient}" + (f" — {rec.label}" if rec.label else "")
    lines = [f"# {title}" if markdown else title, "" if markdown else "=" * len(title)]
    n = 0
    phase = ""
    for outcome in rec.steps:
        if outcome.status != "applies" and not explain_all:
            continue
        if outcome.step.phase != phase:
            phase = outcome.step.phase
            lines.append(f"\n## {phase}" if markdown else f"\n[{phase}]")
        n += 1
        status = "" if outcome.status == "applies" else f" ({outcome.status})"
        lines.append(f"\n{'### ' if markdown else ''}{n}. {outcome.step.label}{status}")
        lines.append(f"   {outcome.step.action}")
        if outcome.because:
            lines.append(f"   why: {' | '.join(outcome.because)}")
        if outcome.missing:
            lines.append(f"   needs: {', '.join(outcome.missing)}")
        if outcome.not_met:
            lines.append(f"   not met: {', '.join(outcome.not_met)}")
        for rid in outcome.step.justified_by:
            lines += _chain_lines(pathway.chains[rid], "   ", bullet)
        side = pathway.side.get(outcome.step.step, [])
        if side:
            lines.append("   conflicting evidence, side by side:")
            for f in side:
                lines.append(f"     {bullet} {f.statement} [{'; '.join(f.studies)}]")
    if n == 0:
        lines.append("\nNo step applies with the facts given; use --explain-all to see what each step needs.")
    return "\n".join(lines)
