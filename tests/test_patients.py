"""Patient profiles: the schema, Turtle input, and clear errors for bad input."""

from __future__ import annotations

import json
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from smnpc_kg.cli import main
from smnpc_kg.clinical.patient import (
    CODES,
    JSON_PATH,
    MAX_PATIENTS,
    Patient,
    TooManyPatients,
    from_json,
    parse_patients,
    read_patients,
    schema,
    to_graph,
    valid_id,
)
from smnpc_kg.core.errors import ParseError, SmnpcError, ValidationError

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


# ------------------------------------------------------------------ issue 12: hostile patient input
TTL = ("@prefix smo: <https://w3id.org/smnpc-kg/ontology#> .\n@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .\n"
       "<https://w3id.org/smnpc-kg/id/patient/Z> a smo:Patient ; ")


def _read(tmp_path: Path, name: str, content: str) -> list[Patient]:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return read_patients(path)


@pytest.mark.parametrize("body,field", [
    ('"months_to_progression": NaN', "months_to_progression"),
    ('"months_to_progression": Infinity', "months_to_progression"),
    ('"chen2016": {"hemoglobin": -Infinity}', "chen2016.hemoglobin"),
    ('"chen2016": {"neutrophil_count": 1e999}', "chen2016.neutrophil_count"),  # overflows to infinity
    ('"chen2016": {"eb_vca_iga_titre": NaN}', "chen2016.eb_vca_iga_titre"),
])
def test_non_finite_json_numbers_are_refused_naming_the_field(tmp_path: Path, body: str, field: str) -> None:
    with pytest.raises(ValidationError) as err:
        _read(tmp_path, "p.json", '{"schema": "smnpc-kg/patient/1.0", "id": "X1", ' + body + "}")
    assert err.value.where == f"{tmp_path / 'p.json'}: {field}" and "is not a finite number" in err.value.message


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), Decimal("NaN"), Decimal("sNaN"), Decimal("-Infinity")])
def test_non_finite_python_numbers_are_refused(value: object) -> None:
    with pytest.raises(ValidationError, match=r"p: months_to_progression: .*is not a finite number"):
        from_json({**BASE, "months_to_progression": value}, "p")


@pytest.mark.parametrize("literal,where", [
    ('"1E-99999999"^^xsd:decimal', "smo:monthsToProgression"),  # 15 characters that would print as 100 MB
    ("0." + "0" * 100_000 + "1", "smo:hemoglobin"),
])
def test_numbers_with_too_many_decimal_places_are_refused(tmp_path: Path, literal: str, where: str) -> None:
    with pytest.raises(ValidationError) as err:
        _read(tmp_path, "p.ttl", TTL + f"{where} {literal} .")
    assert err.value.where == f"{tmp_path / 'p.ttl'}: patient/Z {where}" and "decimal places, more than the 30" in err.value.message
    with pytest.raises(ValidationError, match=r"body: months_to_progression: a number with 320 decimal places"):
        parse_patients('{"schema": "smnpc-kg/patient/1.0", "id": "A", "months_to_progression": 1e-320}', "body")
    [p] = parse_patients('{"schema": "smnpc-kg/patient/1.0", "id": "A", "chen2016": {"neutrophil_count": 4.685}}', "body")[0]
    assert p.facts["neutrophilCount"] == Decimal("4.685")


@pytest.mark.parametrize("literal,prop", [
    ('"NaN"^^xsd:double', "monthsToProgression"), ('"INF"^^xsd:double', "hemoglobin"),
    ('"-INF"^^xsd:float', "gptLevel"), ('"NaN"^^xsd:decimal', "plateletCount"),
])
def test_non_finite_turtle_numbers_are_refused(tmp_path: Path, literal: str, prop: str) -> None:
    with pytest.raises(ValidationError) as err:
        _read(tmp_path, "p.ttl", TTL + f"smo:{prop} {literal} .")
    assert err.value.where == f"{tmp_path / 'p.ttl'}: patient/Z smo:{prop}" and "is not a finite number" in err.value.message


@pytest.mark.parametrize("where,body", [
    ("cycles", '"cycles": ' + "9" * 5000),
    ("lesion_count", '"lesion_count": -' + "1" * 5000),
    ("chen2016.platelet_count", '"chen2016": {"platelet_count": ' + "7" * 5000 + "}"),
])
def test_a_huge_integer_is_refused_naming_the_field(tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str, body: str) -> None:
    path = tmp_path / "p.json"
    path.write_text('{"schema": "smnpc-kg/patient/1.0", "id": "X1", ' + body + "}", encoding="utf-8")
    assert main(["classify", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: {where}: a whole number of 5000 digits is out of range (see the patient schema")
    assert err.count("\n") == 1


def test_a_huge_python_or_turtle_integer_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="p: lesion_count: a whole number of about 3011 digits is out of range"):
        from_json({**BASE, "lesion_count": 10 ** 3010}, "p")
    for digits in (30, 4000, 5000):  # Python converts up to 4300 digits; both sides of that limit
        with pytest.raises(ValidationError) as err:
            _read(tmp_path, "p.ttl", TTL + f"smo:cyclesReceived {'9' * digits} .")
        assert err.value.where == f"{tmp_path / 'p.ttl'}: patient/Z smo:cyclesReceived"


def _violations() -> list[tuple[str, object]]:
    """For every field of the schema with a range or a list of values: one value it refuses (from the schema itself)."""
    out: list[tuple[str, object]] = []
    for prop, path in JSON_PATH.items():
        node = schema()
        for key in path:
            node = node["properties"][key]
        if "maximum" in node:
            out.append((prop, node["maximum"] + 1))
        if "minimum" in node:
            out.append((prop, node["minimum"] - 1))
        if "exclusiveMinimum" in node:
            out.append((prop, node["exclusiveMinimum"]))
        if "enum" in node and prop not in {p for p, _ in CODES.values()}:
            out.append((prop, "T9" if prop == "tStage" else 7))
    return out


@pytest.mark.parametrize("prop,value", _violations(), ids=lambda v: str(v))
def test_turtle_patients_obey_the_schemas_ranges_and_enums(tmp_path: Path, prop: str, value: object) -> None:
    """The JSON schema is the one model: each value it refuses in JSON is refused in Turtle too, naming the property."""
    path = JSON_PATH[prop]
    record: dict[str, object] = dict(BASE)
    if len(path) == 2:
        record[path[0]] = {path[1]: value}
    else:
        record[path[0]] = f"N{value}" if prop == "nCategory" else value
    with pytest.raises(ValidationError):
        from_json(record, "p.json")
    literal = f'"{value}"' if isinstance(value, str) else str(value)
    with pytest.raises(ValidationError) as err:
        _read(tmp_path, "p.ttl", TTL + f"smo:{prop} {literal} .")
    assert err.value.where == f"{tmp_path / 'p.ttl'}: patient/Z smo:{prop}"


@pytest.mark.parametrize("literal", ["5", '"T5"', '"t1"', '"T1 "'])
def test_turtle_t_stage_is_one_of_the_schema_values(tmp_path: Path, literal: str) -> None:
    with pytest.raises(ValidationError, match="is not one of"):
        _read(tmp_path, "p.ttl", TTL + f"smo:tStage {literal} .")
    [p] = _read(tmp_path, "q.ttl", TTL + 'smo:tStage "T3" ; smo:nCategory 2 .')
    assert p.facts == {"tStage": "T3", "nCategory": 2}


@pytest.mark.parametrize("literal,message", [
    ('"abc"^^xsd:integer', "not a valid xsd:integer"), ('"maybe"^^xsd:boolean', "not a valid xsd:boolean"),
    ('"2020-01-01"^^xsd:date', "expected a whole number"), ("2.0", "expected a whole number"), ("true", "expected a whole number"),
])
def test_turtle_literals_of_the_wrong_datatype(tmp_path: Path, capsys: pytest.CaptureFixture[str], literal: str, message: str) -> None:
    prop = "spineInvolved" if "boolean" in literal else "lesionCount"
    path = tmp_path / "p.ttl"
    path.write_text(TTL + f"smo:{prop} {literal} .", encoding="utf-8")
    assert main(["classify", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: patient/Z smo:{prop}: ") and message in err
    assert err.count("\n") == 1, err  # rdflib's own traceback for an ill-typed literal is not shown


@pytest.mark.parametrize("pid", ["P1\n", "\n", "P1\r", "P\u00e91", "P1\u2028", "\u0661", "-P1", "a" * 65, "", "P 1", "P1\x00"])
def test_json_ids_match_the_pattern_as_a_whole_string(pid: str) -> None:
    with pytest.raises(ValidationError) as err:
        from_json({**BASE, "id": pid}, "p.json")
    assert err.value.where == "p.json: id" and "\n" not in str(err.value)
    assert not valid_id(pid)


@pytest.mark.parametrize("iri_tail", ["", "a/b?c#d", "a/b", "P%31", "P1%0A", "-x", "x" * 65, "%C3%A9"])
def test_turtle_ids_are_checked_like_json_ids(tmp_path: Path, iri_tail: str) -> None:
    content = f"@prefix smo: <https://w3id.org/smnpc-kg/ontology#> .\n<https://w3id.org/smnpc-kg/id/patient/{iri_tail}> a smo:Patient .\n"
    with pytest.raises(ValidationError, match=r"does not match|is too long"):
        _read(tmp_path, "p.ttl", content)


def test_every_schema_pattern_is_anchored_at_both_ends() -> None:
    """The validator matches patterns against the whole string; for ^...$ patterns that is what ECMA-262 means."""
    patterns: list[str] = []
    todo: list[object] = [schema()]
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            if isinstance(node.get("pattern"), str):
                patterns.append(node["pattern"])
            todo.extend(node.values())
        elif isinstance(node, list):
            todo.extend(node)
    assert patterns and all(p.startswith("^") and p.endswith("$") for p in patterns)
    Draft202012Validator.check_schema(schema())


@pytest.mark.parametrize("label", ["two\nlines", "bell\x07", "esc\x1b[31mred", "c1\x85", "lone \ud800 surrogate"])
def test_labels_are_one_line_of_text(label: str) -> None:
    with pytest.raises(ValidationError, match=r"p\.json: label"):
        from_json({**BASE, "label": label}, "p.json")


def test_parse_patients_for_a_request_body() -> None:
    one = json.dumps({**BASE, "lesion_count": 2})
    patients, was_list = parse_patients(one, "body")
    assert [p.id for p in patients] == ["X1"] and was_list is False
    patients, was_list = parse_patients(f"[{one}]", "body")
    assert [p.id for p in patients] == ["X1"] and was_list is True
    assert parse_patients("[]", "body") == ([], True)
    with pytest.raises(ParseError, match="body:1:"):
        parse_patients("{", "body")
    with pytest.raises(ValidationError) as err:
        parse_patients(json.dumps([{**BASE, "id": "A"}, {**BASE, "id": "B", "lesion_count": 0}]), "body")
    assert err.value.where == "body[1]: lesion_count" and err.value.details


def test_parse_patients_refuses_more_than_the_limit_before_validating() -> None:
    body = "[" + ",".join([json.dumps({**BASE, "id": f"P{i}"}) for i in range(3)] + ["{}"] * 2) + "]"
    with pytest.raises(TooManyPatients, match="body: 5 patients, more than the 4 allowed at once"):
        parse_patients(body, "body", max_patients=4)
    assert issubclass(TooManyPatients, ValidationError) and MAX_PATIENTS == 1000
    many = json.dumps([{**BASE, "id": f"P{i}"} for i in range(MAX_PATIENTS)])
    assert len(parse_patients(many, "body")[0]) == MAX_PATIENTS
    with pytest.raises(TooManyPatients):
        parse_patients(json.dumps([BASE] * (MAX_PATIENTS + 1)), "body")


def test_duplicate_ids_are_refused_naming_both_positions(tmp_path: Path) -> None:
    cohort = [{**BASE, "id": "A"}, {**BASE, "id": "B"}, {**BASE, "id": "A", "lesion_count": 3}]
    with pytest.raises(ValidationError, match=r"body: patient id 'A' is used more than once: \[0\] and \[2\]"):
        parse_patients(json.dumps(cohort), "body")
    path = tmp_path / "cohort.json"
    path.write_text(json.dumps(cohort), encoding="utf-8")
    with pytest.raises(ValidationError, match=r"cohort.json: patient id 'A' is used more than once: \[0\] and \[2\]"):
        read_patients(path)
    # In Turtle an id is an IRI, so one id is one node: two statements of one fact about it disagree or merge.
    twice = TTL + "smo:lesionCount 2 .\n<https://w3id.org/smnpc-kg/id/patient/Z> a smo:Patient ; smo:lesionCount 3 .\n"
    with pytest.raises(ValidationError, match="patient/Z: two values for smo:lesionCount"):
        _read(tmp_path, "p.ttl", twice)


def test_a_field_given_twice_in_one_object_is_refused() -> None:
    with pytest.raises(ParseError, match="body: the field 'lesion_count' is given twice"):
        parse_patients('{"schema": "smnpc-kg/patient/1.0", "id": "A", "lesion_count": 9, "lesion_count": 1}', "body")


@pytest.mark.parametrize("patch", [
    {"metastatic_sites": [{"k": i} for i in range(3000)]},
    {"metastatic_sites": [[i] for i in range(3000)]},
    {"chen2016": {"hemoglobin": [{"k": i} for i in range(3000)]}},
    {"label": "x" * 1_000_000},
    {"id": "P" * 1_000_000},
    {"x" * 1_000_000: 1},
    {f"extra{i}": i for i in range(20_000)},
])
def test_large_arrays_and_strings_are_refused_quickly(patch: dict[str, object]) -> None:
    """jsonschema's uniqueItems is quadratic on objects (3,000 took 16 s): sizes are bounded before it runs."""
    body = json.dumps({**BASE, **patch})
    start = time.perf_counter()
    with pytest.raises(ValidationError) as err:
        parse_patients(body, "body")
    assert time.perf_counter() - start < 1.0
    assert len(str(err.value)) < 400 and "\n" not in str(err.value)


# ------------------------------------------------------------------ property tests: hostile input is a patient or one clean line
EXAMPLE_JSON = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(EXAMPLES.glob("*.json"))]
EXAMPLE_TTL = next(EXAMPLES.glob("*.ttl")).read_text(encoding="utf-8")
HOLE = "\x00hole\x00"
NUMBERS = ["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "9" * 5000, "-" + "1" * 4400, "1" * 4300, "1" * 31, "1e308",
           "0", "-0", "0.5", "2.0", "600", "601", "1000", "1001", "1000000", "1e-320", "true", "null", '"3"']
ID_TEXTS = ['"P1\\n"', '"\\n"', '"P1\\r\\n"', '"P\\u00e9"', '"P\\u2028"', '"a/b?c#d"', '""', '"' + "x" * 65 + '"', '"\\ud800"',
            '"P1\\u0000"', '" P1"', '"P1"', '"P2"', '"p1"', "1", "null"]


def _array(n: int, item: str) -> str:
    return "[" + ",".join(item.replace("#", str(i)) for i in range(n)) + "]"


fragments = (
    st.sampled_from(NUMBERS)
    | st.sampled_from(ID_TEXTS)
    | st.builds(_array, st.sampled_from([0, 1, 5, 6, 100, 101, 3000]), st.sampled_from(['{"k": #}', '"bone"', "#", '["#"]', '"liver"']))
    | st.text(max_size=30).map(json.dumps)
    | st.builds(lambda n, c: json.dumps(c * n), st.sampled_from([1, 200, 201, 1001, 100_000]), st.sampled_from(["x", "\n", "\x1b", "é"]))
)
FIELDS = [*(k for k in schema()["properties"] if k not in ("schema", "chen2016")),
          *(f"chen2016.{k}" for k in schema()["properties"]["chen2016"]["properties"]), "chen2016", "extra"]


@st.composite
def hostile_patient(draw: st.DrawFn, pid: str | None = None) -> str:
    """One example patient as JSON text (its id ``pid`` if given) with up to three fields replaced by a hostile fragment."""
    patient = json.loads(json.dumps(draw(st.sampled_from(EXAMPLE_JSON))))
    if pid is not None:
        patient["id"] = pid
    holes: list[str] = []
    for field in draw(st.lists(st.sampled_from(FIELDS), max_size=3, unique=True)):
        if field.startswith("chen2016."):
            if not isinstance(patient.get("chen2016"), dict):
                patient["chen2016"] = {}
            patient["chen2016"][field.split(".", 1)[1]] = HOLE
        else:
            patient[field] = HOLE
        holes.append(draw(fragments))
    text = json.dumps(patient)
    for fragment in holes:
        text = text.replace(json.dumps(HOLE), fragment, 1)
    return text


@st.composite
def hostile_bodies(draw: st.DrawFn) -> str:
    """A request body: one hostile patient, or a list of them whose ids may repeat."""
    ids = draw(st.lists(st.sampled_from(["A", "B", "C"]) | st.none(), min_size=1, max_size=4))
    items = [draw(hostile_patient(pid)) for pid in ids]
    return items[0] if len(items) == 1 and draw(st.booleans()) else "[" + ",".join(items) + "]"


def _one_clean_line(exc: SmnpcError) -> None:
    for line in [str(exc), *getattr(exc, "details", [])]:
        assert line and "\n" not in line and "\r" not in line and len(line) < 1000, line
        assert "Traceback" not in line


def _sound(patients: list[Patient]) -> None:
    """What a parsed patient list promises: valid, distinct ids; finite numbers within the schema's largest maximum."""
    ids = [p.id for p in patients]
    assert len(set(ids)) == len(ids) and all(valid_id(i) for i in ids)
    for p in patients:
        for value in p.facts.values():
            if isinstance(value, Decimal):
                assert value.is_finite() and 0 <= value <= 1_000_000
            elif isinstance(value, int) and not isinstance(value, bool):
                assert 0 <= value <= 1000
        assert p.label.isprintable() or p.label == ""


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(body=hostile_bodies())
def test_hostile_json_bodies_give_patients_or_one_clean_line(body: str) -> None:
    try:
        patients, _ = parse_patients(body, "body")
    except SmnpcError as exc:
        event(f"refused: {type(exc).__name__} {exc.message.split(':')[0][:40]}")
        _one_clean_line(exc)
        return
    event("parsed")
    _sound(patients)


LITERALS = ['"NaN"^^xsd:double', '"INF"^^xsd:double', '"-INF"^^xsd:float', '"NaN"^^xsd:decimal', "9" * 5000, "-" + "9" * 4400,
            '"abc"^^xsd:integer', '"x"^^xsd:boolean', '"2020-01-01"^^xsd:date', "5", "-1", "0", "1001", "601", "1000001", '"T5"',
            '"T1"', '"N1"', "true", "false", "2.5", "2.0", "1e400", "1E2", '"5"', "<urn:x>", "[]", '"a"@en', "smo:responsePR",
            "smo:GP", '"1"^^xsd:nonNegativeInteger', '"1"^^<urn:dt>', '"\\u0000"', '"line\\nbreak"', '"' + "x" * 1001 + '"']
PROPS = sorted({*JSON_PATH, "boneMetastasis", "liverMetastasis", "otherMetastasis", "nosuchFact"})
SUBJECTS = [*["patient:P13"] * 6, "patient:", "<https://w3id.org/smnpc-kg/id/patient/a/b?c#d>", "<https://w3id.org/smnpc-kg/id/patient/P1%0A>",
            "<urn:x>", "patient:P14", "_:b"]


@st.composite
def hostile_turtle(draw: st.DrawFn) -> str:
    """The Turtle example with its subject possibly renamed and up to three facts of wrong datatypes or ranges added."""
    text = EXAMPLE_TTL.replace("@prefix rdfs:", "@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .\n@prefix rdfs:", 1)
    subject = draw(st.sampled_from(SUBJECTS))
    text = text.replace("patient:P13 a smo:Patient", f"{subject} a smo:Patient", 1)
    facts = draw(st.lists(st.tuples(st.sampled_from(PROPS), st.sampled_from(LITERALS)), max_size=3))
    for prop, literal in facts:  # each replaces the example's own value of that fact, if it has one
        text = "\n".join(line for line in text.splitlines() if not line.strip().startswith(f"smo:{prop} "))
        text = text.rstrip().rstrip(".") + f" ;\n    smo:{prop} {literal} .\n"
    return text


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=hostile_turtle())
def test_hostile_turtle_gives_patients_or_one_clean_line(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "p.ttl"
        path.write_text(text, encoding="utf-8")
        try:
            patients = read_patients(path)
        except SmnpcError as exc:
            event(f"refused: {type(exc).__name__} {exc.message.split(':')[0][:40]}")
            _one_clean_line(exc)
            assert str(path) in str(exc)
            return
    event("parsed")
    _sound(patients)


def test_the_generators_also_make_valid_patients() -> None:
    """The property tests are not vacuous: unchanged examples and in-range values do parse."""
    assert len(parse_patients(json.dumps(EXAMPLE_JSON), "body")[0]) == len(EXAMPLE_JSON)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "p.ttl"
        path.write_text(EXAMPLE_TTL.replace("smo:cyclesReceived 6", "smo:cyclesReceived 30"), encoding="utf-8")
        [p] = read_patients(path)
        assert p.facts["cyclesReceived"] == 30
