"""The pathway: every branch, complete evidence chains whose quotes the audit accepts, and no rule in code."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from rdflib import Graph

from smnpc_kg.cli import main
from smnpc_kg.clinical.classify import Definitions
from smnpc_kg.clinical.pathway import Pathway, as_json, render_text
from smnpc_kg.clinical.patient import Patient, read_patients
from smnpc_kg.kg.source import SourceText
from smnpc_kg.store.embedded import OxigraphStore

ROOT = Path(__file__).resolve().parent.parent
EXPECTED = {k: v for k, v in json.loads((ROOT / "tests" / "data" / "pathway.expected.json").read_text(encoding="utf-8")).items()
            if not k.startswith("_")}
EXAMPLES = {p.id: p for path in sorted((ROOT / "examples" / "patients").glob("p*.*")) for p in read_patients(path)}


@pytest.fixture(scope="module")
def pathway(store: OxigraphStore, project) -> Pathway:  # type: ignore[no-untyped-def]
    return Pathway(store, Definitions(Graph().parse(project.ontology_files[0])))


def steps_of(pathway: Pathway, patient: Patient) -> list[str]:
    return [o.step.step.rsplit("/", 1)[1] for o in pathway.walk(patient).applicable()]


@pytest.mark.parametrize("pid", sorted(EXPECTED))
def test_example_gets_the_steps_the_review_implies(pid: str, pathway: Pathway) -> None:
    assert steps_of(pathway, EXAMPLES[pid]) == EXPECTED[pid]


def all_steps(pathway: Pathway) -> list[str]:
    return [s.rsplit("/", 1)[1] for s in pathway.order]


def test_every_branch_is_exercised(pathway: Pathway) -> None:
    """Each step applies to some example patient, and (but for the any-line advice) not to another."""
    for step in all_steps(pathway):
        taken = [pid for pid, steps in EXPECTED.items() if step in steps]
        assert taken, f"no example patient takes the step {step}"
        if step != "no-targeted-therapy":
            assert len(taken) < len(EXPECTED), f"every patient takes {step}: it is not a branch"


def test_walk_is_in_pathway_order(pathway: Pathway) -> None:
    order = all_steps(pathway)
    for steps in EXPECTED.values():
        assert steps == sorted(steps, key=order.index)


def test_steps_that_need_facts_say_which(pathway: Pathway) -> None:
    walk = pathway.walk(EXAMPLES["P09"])
    first = next(o for o in walk.steps if o.step.step.endswith("/first-line-chemotherapy"))
    assert first.status == "needs facts" and first.missing == ["line_of_therapy"]
    walk = pathway.walk(EXAMPLES["P05"])
    rt = next(o for o in walk.steps if o.step.step.endswith("/locoregional-rt-responders"))
    assert rt.status == "does not apply" and rt.not_met == ["first-line setting"]


def test_chains_are_complete_and_quotes_are_in_the_source(pathway: Pathway, project) -> None:  # type: ignore[no-untyped-def]
    source = SourceText.from_file(project.source_file)
    for pid in EXPECTED:
        report = as_json(pathway.walk(EXAMPLES[pid]), pathway)
        for step in report["steps"]:
            assert step["because"], step["step"]
            for rec in step["recommendations"]:
                assert rec["direction"] in {"for", "against", "consider", "with caution"}
                assert rec["evidence_level"].startswith("level ")
                assert rec["quotes"] and rec["findings"], rec["recommendation"]
                for q in rec["quotes"]:
                    assert source.find_all(q["text"])
                for finding in rec["findings"]:
                    assert finding["studies"] and finding["quotes"]
                    for q in finding["quotes"] + [r["quote"] for r in finding["results"]]:
                        assert source.find_all(q["text"])


def test_conflicting_bone_evidence_shown_side_by_side(pathway: Pathway) -> None:
    text = render_text(pathway.walk(EXAMPLES["P01"]), pathway)
    assert "conflicting evidence, side by side:" in text
    side = pathway.side[next(s for s in pathway.steps if s.endswith("/local-therapy-bone"))]
    assert {f.finding.rsplit("/", 1)[1] for f in side} == {"ref17-solitary-bone-rt-plus-ct-longer-survival", "ref18-bone-rt-no-survival-benefit"}
    for f in side:
        assert f.statement in text


def test_no_clinical_rule_in_code() -> None:
    """The pathway walk and the classifier hold no smNPC-specific rule: thresholds and conditions live in RDF."""
    for module in ("clinical/pathway.py", "clinical/classify.py", "present/viz.py"):
        code = "\n".join(line for line in (ROOT / "smnpc_kg" / module).read_text(encoding="utf-8").splitlines()
                         if not line.strip().startswith("#"))
        without_docstrings = re.sub(r'"""[\s\S]*?"""', "", code)
        for word in ("liver", "bone", "lung", "platinum", "cycles", "lesion", "EBV", "M1a", "Chen", "Wu2016", "responseCR", "oligo"):
            assert word.lower() not in without_docstrings.lower(), f"{module} mentions {word!r}: a clinical rule belongs in RDF, not code"
        assert not re.search(r"\bGy\b|\dGy", without_docstrings), f"{module} mentions a dose: a clinical rule belongs in RDF, not code"


@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
def test_cli_recommend(fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["recommend", str(ROOT / "examples" / "patients" / "p07-single-liver-lesion.json"), "--format", fmt]) == 0
    out = capsys.readouterr().out
    if fmt == "json":
        assert [s["step"].rsplit("/", 1)[1] for s in json.loads(out)["steps"]] == EXPECTED["P07"]
    else:
        assert "partial hepatectomy" in out.lower() and "reference 70" in out
        if fmt == "markdown":
            assert out.startswith("# Pathway for patient P07")


def test_cli_explain_all(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["recommend", str(ROOT / "examples" / "patients" / "p08-mostly-unknown.json"), "--explain-all"]) == 0
    out = capsys.readouterr().out
    assert "(needs facts)" in out and "needs: line_of_therapy" in out
