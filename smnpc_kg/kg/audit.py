"""The traceability audit: every number in the KG is printed in its quote, every quote in the source."""

from __future__ import annotations

import csv
import json
import re
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path

from rdflib import Literal
from rdflib.namespace import XSD

from smnpc_kg.core.namespaces import BIBO, OA, SMO
from smnpc_kg.kg.source import SourceText, printed_in, squash
from smnpc_kg.store.embedded import Store, Term

NUMERIC = {XSD.integer, XSD.decimal, XSD.double, XSD.float, XSD.nonNegativeInteger, XSD.positiveInteger, XSD.int}
#: Literals the build computes or curators use for ordering: not claims of the review.
NOT_FROM_TEXT = {SMO.order, SMO.sourceLine, SMO.occurrences, OA.start, OA.end}
#: String literals holding the review's own printed words, whose numbers count as captured.
PRINTED_STRINGS = {BIBO.pmid, SMO.groupDefinition, SMO.armLabel, SMO.trialIdentifier, SMO.toxicityGrade, SMO.readingValue}
PMID = re.compile(r"^[1-9][0-9]{0,8}$")

# A figure "with a unit": a number followed by a unit, "%" or a counted noun, directly or through a list
# of numbers joined by "vs", "and", ",", "–" ("46, 25, and 18 months"); or a count with its share ("45 (25%)").
_UNIT = (r"(?:%|\s*(?:months?|years?|\s*-\s*year|days?|d\b|weeks?|Gy|cGy|cm|F\b|fractions|cycles|patients|cases|persons|"
         r"(?:recurrent or )?metastatic (?:NPC|patients|sites|lesions)|hepatic metastases|RT doses|bone-only)|\s*\(\d+(?:\.\d+)?%\))")
_NUM = r"\d+(?:,\d{3})*(?:\.\d+)?"
_LINK = r"(?:\s*(?:vs\.?|and|or|to|,|–|-|<|>|≥|≤)\s*)+"
FIGURE = re.compile(rf"(?<![A-Za-z0-9.])(?<![A-Za-z]-)({_NUM})(?=(?:{_LINK}{_NUM})*{_UNIT})"
                    rf"|(?<=\()(\d+)(?=/\d+\))|(?<=\(\d\d/)(\d+)(?=\))")
TABLE_NUMBER = re.compile(rf"(?<![A-Za-z0-9.])({_NUM})")


@dataclass
class Failure:
    check: str
    node: str
    file: str
    detail: str


@dataclass
class Gap:
    line: int
    number: str
    context: str
    reason: str = ""


@dataclass
class AuditReport:
    failures: list[Failure] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)
    universe: int = 0
    captured: int = 0
    gaps: list[Gap] = field(default_factory=list)
    explained: list[Gap] = field(default_factory=list)
    threshold: float = 95.0

    @property
    def coverage(self) -> float:
        return 100.0 * (self.captured + len(self.explained)) / self.universe if self.universe else 100.0

    @property
    def ok(self) -> bool:
        return not self.failures and not self.gaps and self.coverage >= self.threshold

    def as_json(self) -> str:
        return json.dumps({
            "ok": self.ok, "checked": self.checked, "failures": [asdict(f) for f in self.failures],
            "coverage": {"percent": round(self.coverage, 2), "threshold": self.threshold, "numbers": self.universe,
                         "captured": self.captured, "explained": [asdict(g) for g in self.explained],
                         "gaps": [asdict(g) for g in self.gaps]},
        }, indent=1, ensure_ascii=False)


# ------------------------------------------------------------------ the audit proper, over any store
def _printed(pred: str, value: Literal | Term, quotes: list[str]) -> bool:
    text = str(value) if isinstance(value, Literal) else value.value
    if pred in {str(p) for p in PRINTED_STRINGS}:
        return any(text in q for q in quotes)
    number = Decimal(text)
    if any(printed_in(number, q) for q in quotes):
        return True
    # a reference number cited inside a printed range: "(CT).2–4" cites 2, 3 and 4
    return pred == str(SMO.referenceNumber) and any(_in_range(number, q) for q in quotes)


def _in_range(number: Decimal, quote: str) -> bool:
    return any(Decimal(a) <= number <= Decimal(b) for a, b in re.findall(r"(\d+)–(\d+)", quote))


_NODE_LITERALS = """
SELECT ?node ?p ?o ?exact ?file WHERE {
  ?node prov:wasDerivedFrom ?q . ?q a smo:Quote ; oa:exact ?exact .
  ?node ?p ?o . FILTER(isLiteral(?o))
  OPTIONAL { ?node smo:curatedIn ?file }
}"""

_QUOTES = """
SELECT ?q ?exact ?start ?end ?file WHERE {
  ?q a smo:Quote ; oa:exact ?exact .
  OPTIONAL { ?q oa:start ?start ; oa:end ?end }
  OPTIONAL { ?q smo:curatedIn ?file }
}"""

# (check name, query selecting ?node ?file for every violation, what is wrong)
_REACH = [
    ("result-reaches-quote", "?node a smo:Result . FILTER NOT EXISTS { ?node prov:wasDerivedFrom ?q . ?q a smo:Quote }",
     "a result without a quote"),
    ("result-reaches-study", "?node a smo:Result . FILTER NOT EXISTS { ?node smo:reportedBy ?s . ?s a/rdfs:subClassOf* smo:Publication }",
     "a result that reaches no study (smo:reportedBy)"),
    ("finding-reaches-quote", "?node a smo:Finding . FILTER NOT EXISTS { ?node prov:wasDerivedFrom ?q . ?q a smo:Quote }",
     "a finding without a quote"),
    ("finding-reaches-study", "?node a smo:Finding . FILTER NOT EXISTS { ?node smo:reportedBy ?s . ?s a/rdfs:subClassOf* smo:Publication }",
     "a finding that reaches no study"),
    ("recommendation-reaches-quote", "?node a smo:Recommendation . FILTER NOT EXISTS { ?node prov:wasDerivedFrom ?q . ?q a smo:Quote }",
     "a recommendation without a quote"),
    ("recommendation-reaches-finding", "?node a smo:Recommendation . FILTER NOT EXISTS { ?node smo:supportedBy ?f . ?f a smo:Finding }",
     "a recommendation supported by no finding"),
    ("recommendation-reaches-study", "?node a smo:Recommendation . FILTER NOT EXISTS { ?node smo:supportedBy/smo:reportedBy ?s }",
     "a recommendation whose findings reach no study"),
    ("recommendation-has-evidence-level", "?node a smo:Recommendation . FILTER NOT EXISTS { ?node smo:evidenceLevel ?l }",
     "a recommendation without a derived evidence level"),
    ("study-has-reference-number", "?node a/rdfs:subClassOf* smo:Study . FILTER NOT EXISTS { ?node smo:referenceNumber ?n }",
     "a study without its reference number"),
]


def _reachability(store: Store, report: AuditReport) -> None:
    for check, where, what in _REACH:
        rows = store.query(f"SELECT DISTINCT ?node ?file WHERE {{ {where} OPTIONAL {{ ?node smo:curatedIn ?file }} }}").rows
        kind = where.split(" . ")[0]  # the pattern that picks the nodes the check is about
        total = store.query(f"SELECT (COUNT(DISTINCT ?node) AS ?n) WHERE {{ {kind} }}").rows[0]["n"].value
        report.checked[check] = int(total)
        for row in rows:
            report.failures.append(Failure(check, row["node"].value, row["file"].value if "file" in row else "?", what))
    for row in store.query("SELECT ?node ?pmid ?file WHERE { ?node bibo:pmid ?pmid OPTIONAL { ?node smo:curatedIn ?file } }").rows:
        report.checked["pmid-well-formed"] = report.checked.get("pmid-well-formed", 0) + 1
        if not PMID.match(row["pmid"].value):
            report.failures.append(Failure("pmid-well-formed", row["node"].value, row["file"].value if "file" in row else "?",
                                           f"PMID {row['pmid'].value!r} is not 1-9 digits"))


def check_values_in_quotes(store: Store, report: AuditReport) -> dict[str, list[tuple[str, str]]]:
    """Check every literal of a quoted node against its quotes; return node -> [(pred, literal)]."""
    quotes: dict[str, list[str]] = {}
    literals: dict[str, set[tuple[str, Term]]] = {}
    files: dict[str, str] = {}
    for row in store.query(_NODE_LITERALS).rows:
        node = row["node"].value
        quotes.setdefault(node, [])
        if row["exact"].value not in quotes[node]:
            quotes[node].append(row["exact"].value)
        literals.setdefault(node, set()).add((row["p"].value, row["o"]))
        if "file" in row:
            files[node] = row["file"].value
    numeric = {str(x) for x in NUMERIC}
    skip = {str(x) for x in NOT_FROM_TEXT}
    printed = {str(x) for x in PRINTED_STRINGS}
    checked = 0
    values: dict[str, list[tuple[str, str]]] = {}
    for node in sorted(literals):
        for pred, obj in sorted(literals[node], key=lambda po: (po[0], po[1].value)):
            if pred in skip:
                continue
            if obj.datatype in numeric or pred == str(BIBO.pmid):
                checked += 1
                values.setdefault(node, []).append((pred, obj.value))
                if not _printed(pred, obj, quotes[node]):
                    report.failures.append(Failure("value-in-quote", node, files.get(node, "?"),
                                                   f"<{pred}> {obj.value} is not printed in its quote: "
                                                   f"{' | '.join(squash(q)[:140] for q in quotes[node])!r}"))
            elif pred in printed:
                values.setdefault(node, []).append((pred, obj.value))
    report.checked["value-in-quote"] = checked
    return values


def table_lines(source: SourceText) -> set[int]:
    """1-based line numbers of the tables' rows and notes (from the column header to the abbreviations)."""
    rows: set[int] = set()
    state = ""
    for i, line in enumerate(source.raw.splitlines(), 1):
        if re.match(r"Table \d+ ", line):
            state = "title"
        elif state == "title" and line.startswith("Study "):
            state = "rows"
        elif state == "rows" and line.startswith("Abbreviations:"):
            state = ""
        elif state == "rows" and line.strip() not in ("", "(month)"):
            rows.add(i)
    return rows


def figures(source: SourceText) -> list[tuple[int, int, str]]:
    """The coverage universe: (offset, line, number) of each figure with a unit in the text, and of
    every number in a table row."""
    rows = table_lines(source)
    out: list[tuple[int, int, str]] = []
    offset = 0
    for lineno, line in enumerate(source.raw.splitlines(keepends=True), 1):
        pattern = TABLE_NUMBER if lineno in rows else None
        if pattern is not None:
            out += [(offset + m.start(1), lineno, m.group(1)) for m in pattern.finditer(line)]
        offset += len(line)
    table_offsets = {o for o, _, _ in out}
    text_figures = [(m.start(m.lastindex or 0), source.line_of(m.start(m.lastindex or 0)), m.group(m.lastindex or 0))
                    for m in FIGURE.finditer(source.raw)]
    out += [f for f in text_figures if f[0] not in table_offsets and source.line_of(f[0]) not in rows]
    return sorted(out)


def _coverage(store: Store, source: SourceText, values: dict[str, list[tuple[str, str]]],
              exceptions: dict[tuple[int, str], str], report: AuditReport) -> None:
    spans: dict[str, tuple[int, int]] = {}
    for row in store.query(_QUOTES).rows:
        if "start" in row:
            spans[row["q"].value] = (int(row["start"].value), int(row["end"].value))
    cover: list[tuple[int, int, str]] = []
    for row in store.query("SELECT ?node ?q WHERE { ?node prov:wasDerivedFrom ?q . ?q a smo:Quote }").rows:
        if row["q"].value in spans:
            start, end = spans[row["q"].value]
            cover.append((start, end, row["node"].value))
    universe = figures(source)
    report.universe = len(universe)
    for offset, line, token in universe:
        number = Decimal(token.replace(",", ""))
        captured = False
        for start, end, node in cover:
            if start <= offset < end:
                for pred, text in values.get(node, []):
                    if pred in {str(p) for p in PRINTED_STRINGS}:
                        captured = captured or printed_in(number, text) or token in text
                    else:
                        try:
                            captured = captured or Decimal(text) == number
                        except ArithmeticError:
                            continue
            if captured:
                break
        if captured:
            report.captured += 1
            continue
        context = squash(source.raw[max(0, offset - 40):offset + 30])
        key = (line, token)
        if key in exceptions:
            report.explained.append(Gap(line, token, context, exceptions[key]))
        else:
            report.gaps.append(Gap(line, token, context))


def read_exceptions(path: Path) -> dict[tuple[int, str], str]:
    """evidence/coverage-exceptions.tsv: line, number, reason — numbers deliberately not captured."""
    if not path.is_file():
        return {}
    with path.open(encoding="utf-8") as fh:
        return {(int(r["line"]), r["number"]): r["reason"] for r in csv.DictReader(fh, delimiter="\t") if r.get("line")}


def run_audit(store: Store, source: SourceText, exceptions: dict[tuple[int, str], str] | None = None,
              threshold: float = 95.0) -> AuditReport:
    """Audit a built KG (any store) against the source text."""
    report = AuditReport(threshold=threshold)
    for row in store.query(_QUOTES).rows:
        report.checked["quote-in-source"] = report.checked.get("quote-in-source", 0) + 1
        if not source.find_all(row["exact"].value):
            report.failures.append(Failure("quote-in-source", row["q"].value, row["file"].value if "file" in row else "?",
                                           f"not found in the source: {squash(row['exact'].value)[:120]!r}"))
    values = check_values_in_quotes(store, report)
    _reachability(store, report)
    _coverage(store, source, values, exceptions or {}, report)
    return report


def render_report(report: AuditReport) -> str:
    """A readable report: one line per check, then failures and gaps."""
    lines = ["check                              checked  failures"]
    by_check: dict[str, int] = {}
    for f in report.failures:
        by_check[f.check] = by_check.get(f.check, 0) + 1
    for check, n in sorted(report.checked.items()):
        lines.append(f"{check:<35}{n:>7}{by_check.get(check, 0):>10}")
    lines.append(f"{'coverage of printed figures':<35}{report.universe:>7}{len(report.gaps):>10}   "
                 f"{report.coverage:.1f}% ({report.captured} captured, {len(report.explained)} explained; threshold {report.threshold:.0f}%)")
    for f in report.failures:
        lines.append(f"FAIL {f.check}: {f.file}: {f.node}: {f.detail}")
    for g in report.gaps:
        lines.append(f"GAP line {g.line}: {g.number} in '...{g.context}...' (capture it, or explain it in evidence/coverage-exceptions.tsv)")
    lines.append("audit passed" if report.ok else "audit FAILED")
    return "\n".join(lines)
