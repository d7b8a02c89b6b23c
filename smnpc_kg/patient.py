"""Patient profiles: the versioned JSON schema, Turtle input, validation, and the patient graph."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import RDF, RDFS, XSD

from smnpc_kg.errors import ParseError, ValidationError
from smnpc_kg.namespaces import ID, SMO

SCHEMA_VERSION = "smnpc-kg/patient/1.0"
PATIENT = f"{ID}patient/"

#: A fact's value: a boolean, an integer, a decimal, a string, or a named individual of the ontology.
Value = bool | int | Decimal | str | URIRef

SITES = {"bone": "boneMetastasis", "liver": "liverMetastasis", "lung": "lungMetastasis",
         "distant_lymph_node": "distantNodeMetastasis", "other": "otherMetastasis"}
# JSON field -> ontology property (local name); the one place the two vocabularies meet.
SCALARS = {"lesion_count": "lesionCount", "liver_lesion_count": "liverLesionCount",
           "metastatic_site_count": "metastaticSiteCount", "spine_involved": "spineInvolved", "t_stage": "tStage",
           "line_of_therapy": "lineOfTherapy", "cycles": "cyclesReceived", "prior_platinum": "priorPlatinum",
           "months_to_progression": "monthsToProgression"}
CHEN2016 = {"oligometastases": "oligometastases", "extraregional_lymph_node_metastasis": "extraregionalNodeMetastasis",
            "eb_vca_iga_titre": "ebvVcaIgaTitre", "neutrophil_count": "neutrophilCount", "platelet_count": "plateletCount",
            "hemoglobin": "hemoglobin", "gpt": "gptLevel", "ggt": "ggtLevel"}
CODES = {"response": ("response", {"CR": SMO.responseCR, "PR": SMO.responsePR, "SD": SMO.responseSD, "PD": SMO.responsePD}),
         "ebv_dna_after_chemotherapy": ("ebvDnaAfterChemotherapy", {"detectable": SMO.ebvDetectable, "undetectable": SMO.ebvUndetectable}),
         "regimen": ("regimenReceived", {"GP": SMO.GP, "TP": SMO.TP, "PF": SMO.PF, "TPF": SMO.TPF, "BPF": SMO.BPF,
                                         "gemcitabine+vinorelbine": SMO.GemcitabineVinorelbine, "other": SMO.ChemotherapyRegimen})}
DECIMALS = {"monthsToProgression", "ebvVcaIgaTitre", "neutrophilCount", "plateletCount", "hemoglobin", "gptLevel", "ggtLevel"}
BOOLEANS = {*SITES.values(), "spineInvolved", "priorPlatinum", "oligometastases", "extraregionalNodeMetastasis"}
STRINGS = {"tStage"}
INDIVIDUALS = {"response", "ebvDnaAfterChemotherapy"}
CLASSES = {"regimenReceived"}
PROPERTIES = {*SITES.values(), *SCALARS.values(), *CHEN2016.values(), "nCategory", *(p for p, _ in CODES.values())}
#: For messages: the JSON field a property comes from.
FIELD_OF = {**{v: f"metastatic_sites ({k})" for k, v in SITES.items()}, **{v: k for k, v in SCALARS.items()},
            **{v: f"chen2016.{k}" for k, v in CHEN2016.items()}, "nCategory": "n_stage",
            **{p: k for k, (p, _) in CODES.items()}}


@dataclass
class Patient:
    """One patient's facts, keyed by ontology property; an absent key is an unknown fact."""

    id: str
    facts: dict[str, Value] = field(default_factory=dict)
    label: str = ""
    source: str = ""

    @property
    def iri(self) -> URIRef:
        return URIRef(PATIENT + self.id)

    def get(self, prop: str) -> Value | None:
        return self.facts.get(prop)


@cache
def schema() -> dict[str, Any]:
    """The JSON schema shipped with the package (smnpc_kg/schemas/patient-1.0.schema.json)."""
    text = resources.files("smnpc_kg").joinpath("schemas/patient-1.0.schema.json").read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def _where(source: str, path: list[str | int]) -> str:
    dotted = ".".join(str(p) for p in path)
    return f"{source}: {dotted}" if dotted else source


def from_json(data: Any, source: str = "patient") -> Patient:
    """A patient from a parsed JSON object; a bad field raises ValidationError naming it and the rule.

    >>> p = from_json({"schema": "smnpc-kg/patient/1.0", "id": "P1", "metastatic_sites": ["bone"], "lesion_count": 2})
    >>> p.facts["boneMetastasis"], p.facts["liverMetastasis"], p.facts["lesionCount"]
    (True, False, 2)
    """
    from jsonschema import Draft202012Validator

    if _depth(data) > MAX_DEPTH:
        raise ValidationError(f"nested more than {MAX_DEPTH} levels deep", where=source,
                              hint=f"a patient is a flat object (see the patient schema {SCHEMA_VERSION})")
    validator = Draft202012Validator(schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        details = [f"{_where(source, list(e.absolute_path)) or source}: {e.message}" for e in errors]
        raise ValidationError(f"{first.message}", where=_where(source, list(first.absolute_path)),
                              hint=f"see the patient schema {SCHEMA_VERSION} (smnpc-kg patient-schema)", details=details)
    assert isinstance(data, dict)
    facts: dict[str, Value] = {}
    if "metastatic_sites" in data:
        for site, prop in SITES.items():
            facts[prop] = site in data["metastatic_sites"]
    for key, prop in SCALARS.items():
        if key in data:
            facts[prop] = _value(prop, data[key])
    if "n_stage" in data:
        facts["nCategory"] = int(data["n_stage"][1])
    for key, (prop, codes) in CODES.items():
        if key in data and data[key] in codes:
            facts[prop] = codes[data[key]]
    for key, prop in CHEN2016.items():
        if key in data.get("chen2016", {}):
            facts[prop] = _value(prop, data["chen2016"][key])
    patient = Patient(str(data["id"]), facts, str(data.get("label", "")), source)
    check_rules(patient)
    return patient


MAX_DEPTH = 16  # the schema needs 3; deeper input is refused before a recursive validator sees it


def _depth(data: Any) -> int:
    """How deeply lists and objects nest, without recursion (so that hostile input cannot exhaust the stack)."""
    deepest, todo = 0, [(data, 1)]
    while todo:
        item, level = todo.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            if level <= MAX_DEPTH:
                todo.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def parse_json(text: str, where: str) -> Any:
    """JSON text to Python values; any syntax problem, or nesting too deep to parse, is a ParseError at line:column."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParseError(f"not valid JSON: {exc.msg}", where=f"{where}:{exc.lineno}:{exc.colno}",
                         hint="fix the JSON syntax (a missing comma or quote is common)") from exc
    except RecursionError as exc:
        raise ParseError("JSON nested too deeply to read", where=where, hint="a patient is a flat object") from exc


def _value(prop: str, raw: Any) -> Value:
    if prop in DECIMALS:
        return Decimal(str(raw))
    if isinstance(raw, bool | int | str):
        return raw
    raise ValidationError(f"unexpected value {raw!r}", where=FIELD_OF.get(prop, prop))


def check_rules(patient: Patient) -> None:
    """The rules that tie facts together; each error names the fields and the rule."""
    f = patient.facts
    where = patient.source or patient.id
    problems: list[str] = []
    lesions, liver_lesions, sites = f.get("lesionCount"), f.get("liverLesionCount"), f.get("metastaticSiteCount")
    if isinstance(lesions, int) and isinstance(liver_lesions, int) and liver_lesions > lesions:
        problems.append(f"liver_lesion_count ({liver_lesions}) is more than lesion_count ({lesions}): the liver lesions are part of the total")
    if isinstance(lesions, int) and isinstance(sites, int) and sites > lesions:
        problems.append(f"metastatic_site_count ({sites}) is more than lesion_count ({lesions}): every site holds at least one lesion")
    if f.get("liverMetastasis") is True and liver_lesions == 0:
        problems.append("metastatic_sites lists the liver but liver_lesion_count is 0: give the number of liver lesions")
    if f.get("liverMetastasis") is False and isinstance(liver_lesions, int) and liver_lesions > 0:
        problems.append(f"liver_lesion_count is {liver_lesions} but metastatic_sites does not list the liver: add 'liver' to the sites")
    listed = [p for p in SITES.values() if f.get(p) is True]
    if isinstance(lesions, int) and lesions < len(listed):
        problems.append(f"lesion_count ({lesions}) is less than the number of metastatic sites listed ({len(listed)})")
    if f.get("spineInvolved") is True and f.get("boneMetastasis") is False:
        problems.append("spine_involved is true but metastatic_sites does not list bone")
    if problems:
        raise ValidationError(problems[0], where=where, hint="correct the facts; leave out a field that is unknown",
                              details=[f"{where}: {p}" for p in problems])


def read_patients(path: Path) -> list[Patient]:
    """Patients from a JSON file (one object or a list) or a Turtle file (nodes typed smo:Patient)."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ParseError(f"cannot read patient file: {exc.strerror}", where=name, hint="check the path") from exc
    except UnicodeDecodeError as exc:
        raise ParseError("not UTF-8 text", where=name, hint="save the file as UTF-8") from exc
    if path.suffix.lower() == ".json" or text.lstrip()[:1] in ("{", "["):
        data = parse_json(text, name)
        items = data if isinstance(data, list) else [data]
        patients = [from_json(item, name if len(items) == 1 else f"{name}[{i}]") for i, item in enumerate(items)]
    elif path.suffix.lower() in (".ttl", ".turtle"):
        from smnpc_kg.build import parse_turtle

        patients = from_graph(parse_turtle(path, name), name)
    else:
        raise ParseError("a patient file is JSON (.json) or Turtle (.ttl)", where=name,
                         hint=f"write the patient as JSON following {SCHEMA_VERSION}, or as Turtle with smo: patient terms")
    ids = [p.id for p in patients]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValidationError(f"patient id {duplicates[0]!r} is used more than once", where=name, hint="give each patient its own id")
    return patients


def from_graph(graph: Graph, source: str = "patient graph") -> list[Patient]:
    """Patients from RDF using the ontology's patient terms."""
    patients = []
    for node in sorted(set(graph.subjects(RDF.type, SMO.Patient)), key=str):
        if not isinstance(node, URIRef) or not str(node).startswith(PATIENT):
            raise ValidationError(f"a patient's IRI must start with {PATIENT}", where=f"{source}: {node}",
                                  hint="name the patient <https://w3id.org/smnpc-kg/id/patient/ID>")
        pid = str(node)[len(PATIENT):]
        facts: dict[str, Value] = {}
        for pred, obj in graph.predicate_objects(node):
            if pred == RDF.type or pred == RDFS.label:
                continue
            local = str(pred)[len(str(SMO)):] if str(pred).startswith(str(SMO)) else None
            if local not in PROPERTIES:
                raise ValidationError(f"unknown patient fact {pred.n3(graph.namespace_manager)}", where=f"{source}: patient/{pid}",
                                      hint="use the ontology's patient properties (smo:lesionCount, smo:liverMetastasis, ...)")
            assert local is not None
            if local in facts:
                raise ValidationError(f"two values for smo:{local}", where=f"{source}: patient/{pid}", hint="give each fact once")
            facts[local] = _from_rdf(local, obj, f"{source}: patient/{pid} smo:{local}")
        patient = Patient(pid, facts, str(graph.value(node, RDFS.label) or ""), source)
        check_rules(patient)
        patients.append(patient)
    if not patients:
        raise ValidationError("no patient in the file", where=source, hint="type each patient `a smo:Patient`")
    return patients


def _from_rdf(local: str, obj: object, where: str) -> Value:
    allowed = {p for p, _ in CODES.values() if p == local}
    if local in INDIVIDUALS or local in CLASSES or allowed:
        codes = next(c for p, c in CODES.values() if p == local)
        if obj not in codes.values():
            raise ValidationError(f"unknown code {obj}", where=where, hint=f"use one of {', '.join(sorted(str(c) for c in codes.values()))}")
        assert isinstance(obj, URIRef)
        return obj
    if not isinstance(obj, Literal):
        raise ValidationError("expected a literal value", where=where, hint="write a number, true/false or a string")
    value = obj.toPython()
    if local in BOOLEANS:
        if not isinstance(value, bool):
            raise ValidationError(f"expected true or false, got {obj}", where=where, hint="write true or false")
        return value
    if local in DECIMALS:
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
            raise ValidationError(f"expected a number, got {obj}", where=where, hint="write a number")
        return Decimal(str(value))
    if local in STRINGS:
        return str(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationError(f"expected a whole number of 0 or more, got {obj}", where=where, hint="write a whole number")
    return value


def to_graph(patients: list[Patient]) -> Graph:
    """The patient graph: each patient a smo:Patient with its known facts."""
    graph = Graph()
    for p in patients:
        graph.add((p.iri, RDF.type, SMO.Patient))
        if p.label:
            graph.add((p.iri, RDFS.label, Literal(p.label)))
        for prop, value in sorted(p.facts.items()):
            graph.add((p.iri, SMO[prop], _to_rdf(prop, value)))
    return graph


def _to_rdf(prop: str, value: Value) -> URIRef | Literal | BNode:
    if isinstance(value, URIRef):
        return value
    if prop in DECIMALS:
        return Literal(value, datatype=XSD.decimal)
    if isinstance(value, bool):
        return Literal(value)
    if isinstance(value, int):
        return Literal(value, datatype=XSD.integer)
    return Literal(str(value))
