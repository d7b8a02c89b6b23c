"""Patient profiles: the schema, Turtle input, and clear errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smnpc_kg.cli import main
from smnpc_kg.errors import ParseError, SmnpcError, ValidationError
from smnpc_kg.patient import from_json, read_patients, schema, to_graph

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "patients"
BASE = {"schema": "smnpc-kg/patient/1.0", "id": "X1"}


def test_schema_is_versioned_and_shipped() -> None:
    s = schema()
    assert s["properties"]["schema"]["const"] == "smnpc-kg/patient/1.0"
    assert s["additionalProperties"] is False


def test_unknown_stays_unknown() -> None:
    p = from_json({**BASE, "lesion_count": 2})
    assert p.facts == {"lesionCount": 2}
    assert "liverMetastasis" not in p.facts


@pytest.mark.parametrize("patch,field,rule", [
    ({"lesion_count": -1}, "lesion_count", "less than the minimum of 1"),
    ({"lesion_count": "three"}, "lesion_count", "is not of type 'integer'"),
    ({"liver_lesion_count": 3, "lesion_count": 2}, "X1", "liver_lesion_count (3) is more than lesion_count (2)"),
    ({"metastatic_sites": ["liver"], "liver_lesion_count": 0}, "X1", "lists the liver but liver_lesion_count is 0"),
    ({"metastatic_sites": ["bone"], "liver_lesion_count": 2, "lesion_count": 3}, "X1", "does not list the liver"),
    ({"response": "CRR"}, "response", "is not one of ['CR', 'PR', 'SD', 'PD']"),
    ({"metastatic_sites": ["brain"]}, "metastatic_sites.0", "is not one of"),
    ({"spine_involved": "yes"}, "spine_involved", "is not of type 'boolean'"),
    ({"lesion_cuont": 2}, "X1", "Additional properties are not allowed ('lesion_cuont' was unexpected)"),
    ({"metastatic_sites": ["bone", "lung"], "lesion_count": 1}, "X1", "less than the number of metastatic sites listed (2)"),
    ({"metastatic_sites": ["lung"], "spine_involved": True}, "X1", "spine_involved is true but metastatic_sites does not list bone"),
    ({"id": "has space"}, "id", "does not match"),
    ({"chen2016": {"neutrophil_count": -2}}, "chen2016.neutrophil_count", "less than the minimum of 0"),
])
def test_bad_input_names_field_and_rule(patch: dict[str, object], field: str, rule: str) -> None:
    with pytest.raises(ValidationError) as err:
        from_json({**BASE, **patch}, "p.json")
    text = str(err.value) + " ".join(err.value.details)
    assert f"p.json: {field}" in str(err.value) if field != "X1" else "p.json" in str(err.value)
    assert rule in text


def test_wrong_schema_version() -> None:
    with pytest.raises(ValidationError, match="schema"):
        from_json({"schema": "smnpc-kg/patient/9.9", "id": "X"}, "p.json")


PFX = "@prefix smo: <https://w3id.org/smnpc-kg/ontology#> .\n<https://w3id.org/smnpc-kg/id/patient/Z> a smo:Patient ; "


@pytest.mark.parametrize("name,content,message", [
    ("p.json", '{"schema": "smnpc-kg/patient/1.0", "id": "X1",\n "lesion_count": 2,,}', "p.json:2:"),
    ("p.txt", "lesion count: 2", "a patient file is JSON (.json) or Turtle (.ttl)"),
    ("p.ttl", PFX + 'smo:lesionCount "two" .', "expected a whole number"),
    ("p.ttl", PFX + "smo:lesionCont 2 .", "unknown patient fact"),
    ("p.ttl", PFX + "smo:response smo:responseXX .", "unknown code"),
    ("p.ttl", "@prefix smo: <https://w3id.org/smnpc-kg/ontology#> .\n<urn:x> a smo:Patient .", "must start with"),
    ("p.ttl", "@prefix smo: <https://w3id.org/smnpc-kg/ontology#> .\n<urn:x> smo:lesionCount 2", "p.ttl:2:"),
])
def test_bad_files(tmp_path: Path, name: str, content: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(SmnpcError) as err:
        read_patients(path)
    assert message in str(err.value)


def test_turtle_and_json_give_the_same_facts(tmp_path: Path) -> None:
    [p] = read_patients(EXAMPLES / "p10-bone-middle-risk.json")
    ttl = tmp_path / "p10.ttl"
    ttl.write_text(to_graph([p]).serialize(format="turtle"), encoding="utf-8")
    [q] = read_patients(ttl)
    assert q.facts == p.facts and q.id == p.id


def test_a_list_of_patients(tmp_path: Path) -> None:
    path = tmp_path / "cohort.json"
    path.write_text(json.dumps([{**BASE, "id": "A"}, {**BASE, "id": "B", "lesion_count": 1}]), encoding="utf-8")
    assert [p.id for p in read_patients(path)] == ["A", "B"]
    path.write_text(json.dumps([{**BASE, "id": "A"}, {**BASE, "id": "A"}]), encoding="utf-8")
    with pytest.raises(ValidationError, match="used more than once"):
        read_patients(path)


def test_cli_bad_patient_is_one_clean_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({**BASE, "lesion_count": 0}), encoding="utf-8")
    assert main(["classify", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: lesion_count: 0 is less than the minimum of 1") and "Traceback" not in err


def test_missing_file() -> None:
    with pytest.raises(ParseError, match="cannot read patient file"):
        read_patients(Path("/no/such/patient.json"))
