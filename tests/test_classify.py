"""Classification: every example patient as the review's definitions say; HermiT and the compiled evaluator agree."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rdflib import Graph

from smnpc_kg.clinical.classify import Classifier, Definitions, hermit_members, report_json
from smnpc_kg.clinical.patient import Patient, from_json, read_patients
from smnpc_kg.core.errors import ValidationError
from smnpc_kg.store.embedded import OxigraphStore

ROOT = Path(__file__).resolve().parent.parent
EXPECTED = json.loads((ROOT / "tests" / "data" / "patients.expected.json").read_text(encoding="utf-8"))
EXAMPLES = sorted((ROOT / "examples" / "patients").glob("p*.*"))


@pytest.fixture(scope="module")
def ontology(project) -> Graph:  # type: ignore[no-untyped-def]
    return Graph().parse(project.ontology_files[0])


@pytest.fixture(scope="module")
def classifier(ontology: Graph, store: OxigraphStore) -> Classifier:
    return Classifier(Definitions(ontology), store)


def test_there_are_enough_examples() -> None:
    assert len(EXAMPLES) >= 8 and {p.suffix for p in EXAMPLES} == {".json", ".ttl"}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_patient(path: Path, classifier: Classifier) -> None:
    [patient] = read_patients(path)
    report = classifier.report(patient)
    want = EXPECTED[patient.id]
    got = {s.scheme.rsplit("/", 1)[1]: (s.group_label if s.status == "classified" else s.status) for s in report.schemes}
    assert got == want["schemes"]
    for label, member in want["classes"].items():
        assert report.classes[label].truth is member, label
    for s in report.schemes:
        if s.status == "classified":
            assert s.criteria and s.outcomes, f"{s.scheme_label}: a placed patient gets reasons and the published outcome"
            assert all(o.quote and o.line > 0 for o in s.outcomes)
        if s.status == "not classifiable":
            assert s.missing


def test_report_names_outcome_quote_and_reference(classifier: Classifier) -> None:
    [p] = read_patients(ROOT / "examples" / "patients" / "p01-solitary-bone-responder.json")
    wu = next(s for s in classifier.report(p).schemes if s.scheme.endswith("wu-2016"))
    assert wu.reference == 16 and wu.pmid == "26264052"
    assert wu.criteria == ["lesion_count = 1", "liver_lesion_count = 0"]
    assert {o.text for o in wu.outcomes} == {"median OS 46 months"}
    assert any(o.quote.startswith("M1a Single lesion located into an isolated organ") for o in wu.outcomes)


def test_parameter_and_contradiction_are_reported(classifier: Classifier) -> None:
    [p] = read_patients(ROOT / "examples" / "patients" / "p10-bone-middle-risk.json")
    report = {s.scheme.rsplit("/", 1)[1]: s for s in classifier.report(p).schemes}
    assert any("oligometastatic: at most N lesions = 3" in r for r in report["chen-2017"].rests_on)
    sun = report["sun-2019"]
    assert "3-year OS 54.9%" in sun.disagreement and "3-year OS 60%" in sun.disagreement


def test_missing_facts_are_named(classifier: Classifier) -> None:
    [p] = read_patients(ROOT / "examples" / "patients" / "p08-mostly-unknown.json")
    report = {s.scheme.rsplit("/", 1)[1]: s for s in classifier.report(p).schemes}
    assert report["wu-2016"].missing == ["liver_lesion_count"]
    assert "metastatic_sites (liver)" in report["chen-2017"].missing
    assert json.dumps(report_json(classifier.report(p)))  # serialisable


def test_hermit_agrees_on_examples(ontology: Graph, classifier: Classifier) -> None:
    patients = [p for path in EXAMPLES for p in read_patients(path)]
    definitions = classifier.definitions
    inferred = hermit_members(patients, ontology, list(definitions.formulas))
    for p in patients:
        assert inferred[p.id] == definitions.members(p), p.id
        classifier.report(p, inferred[p.id], "hermit")  # raises if they disagree


# ---- property test: for generated patients, HermiT and the compiled evaluator infer the same classes
maybe = lambda s: st.none() | s  # noqa: E731


@st.composite
def patients(draw: st.DrawFn) -> dict[str, object]:
    data: dict[str, object] = {"schema": "smnpc-kg/patient/1.0", "id": "G"}
    sites = draw(maybe(st.sets(st.sampled_from(["bone", "liver", "lung", "distant_lymph_node", "other"]), min_size=1)))
    lesions = draw(maybe(st.integers(1, 12)))
    if sites is not None:
        data["metastatic_sites"] = sorted(sites)
        if lesions is not None and lesions < len(sites):
            lesions = len(sites)
    if lesions is not None:
        data["lesion_count"] = lesions
    liver = draw(maybe(st.integers(0, 6)))
    if liver is not None and sites is not None:
        liver = (max(1, liver) if "liver" in sites else 0)
    if liver is not None and lesions is not None:
        liver = min(liver, lesions)
        if sites is not None and "liver" in sites and liver == 0:
            liver = None
    if liver is not None:
        data["liver_lesion_count"] = liver
    site_count = draw(maybe(st.integers(1, 8)))
    if site_count is not None:
        data["metastatic_site_count"] = min(site_count, lesions) if lesions else site_count
    spine = draw(maybe(st.booleans()))
    if spine is not None and not (spine and sites is not None and "bone" not in sites):
        data["spine_involved"] = spine
    for key, strat in (("ebv_dna_after_chemotherapy", st.sampled_from(["detectable", "undetectable", "unknown"])),
                       ("response", st.sampled_from(["CR", "PR", "SD", "PD"])), ("line_of_therapy", st.integers(1, 3)),
                       ("cycles", st.integers(0, 8)), ("prior_platinum", st.booleans()), ("n_stage", st.sampled_from(["N0", "N1", "N2", "N3"])),
                       ("months_to_progression", st.sampled_from([0, 3, 5.5, 6, 6.5, 12]))):
        value = draw(maybe(strat))
        if value is not None:
            data[key] = value
    markers = draw(maybe(st.fixed_dictionaries({}, optional={
        "oligometastases": st.booleans(), "extraregional_lymph_node_metastasis": st.booleans(),
        "eb_vca_iga_titre": st.sampled_from([40, 160, 320]), "neutrophil_count": st.sampled_from([3.0, 4.685, 6.1]),
        "platelet_count": st.sampled_from([200, 287, 350]), "hemoglobin": st.sampled_from([110, 129.6, 145]),
        "gpt": st.sampled_from([20, 54.5, 80]), "ggt": st.sampled_from([30, 66, 90])})))
    if markers:
        data["chen2016"] = markers
    return data


@pytest.mark.slow
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(patients(), min_size=20, max_size=40))
def test_hermit_and_compiled_agree(ontology: Graph, classifier: Classifier, cohort: list[dict[str, object]]) -> None:
    batch: list[Patient] = []
    for i, data in enumerate(cohort):
        batch.append(from_json({**data, "id": f"G{i}"}))
    definitions = classifier.definitions
    inferred = hermit_members(batch, ontology, list(definitions.formulas))
    for p in batch:
        assert inferred[p.id] == definitions.members(p), (p.facts, inferred[p.id] ^ definitions.members(p))
        explained = {cls for cls, verdict in definitions.classify(p).items() if verdict.truth}
        assert explained == definitions.members(p), "the explaining evaluator and the generated code disagree"


@pytest.mark.parametrize("ids,message", [
    (["P1\n"], "patient id 'P1\\n' is not a valid id"),
    (["a/b?c#d"], "is not a valid id"),
    (["A", "B", "A"], "patient id 'A' is used more than once: p0 and p2"),
])
def test_hermit_path_refuses_ids_it_cannot_name(ontology: Graph, classifier: Classifier, ids: list[str], message: str) -> None:
    """Each id becomes an IRI in HermiT's ABox and keys its answer: a bad or repeated id is one clear error, not a crash."""
    patients = [Patient(pid, {"lesionCount": 1}, source=f"p{i}") for i, pid in enumerate(ids)]
    with pytest.raises(ValidationError) as err:
        hermit_members(patients, ontology, list(classifier.definitions.formulas))
    assert message in str(err.value)
