"""Patient profiles: the versioned JSON schema, Turtle input, validation, and the patient graph."""

from __future__ import annotations

import json
import logging
import math
import re
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import RDF, RDFS, XSD

from smnpc_kg.core.errors import ParseError, ValidationError
from smnpc_kg.core.namespaces import ID, SMO

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


class TooManyPatients(ValidationError):
    """More patients in one input than its limit (the endpoint answers 413)."""


#: Patients in one request body (the endpoint); a patient file holds at most MAX_FILE_PATIENTS.
MAX_PATIENTS = 1000
MAX_FILE_PATIENTS = 100_000
#: Bounds checked on every parsed patient before the schema validator sees it (its uniqueItems is quadratic):
#: nesting (the schema needs 3 levels), items in an array or fields in an object (the schema has at most 18 and 5),
#: characters in a string or field name, digits in an integer literal (the schema's largest maximum has 7), decimal
#: places of a number (the thresholds have 3).
MAX_DEPTH = 16
MAX_ITEMS = 100
MAX_TEXT = 1000
MAX_DIGITS = 30
MAX_PLACES = 30
MAX_DETAILS = 50

SCHEMA_HINT = f"see the patient schema {SCHEMA_VERSION} (smnpc-kg patient-schema)"


@cache
def schema() -> dict[str, Any]:
    """The JSON schema shipped with the package (smnpc_kg/schemas/patient-1.0.schema.json)."""
    text = resources.files("smnpc_kg").joinpath("schemas/patient-1.0.schema.json").read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def _whole_string_pattern(validator: Any, pattern: str, instance: Any, _schema: Any) -> Iterator[Any]:
    """``pattern`` as JSON Schema (ECMA-262) means it: the schema's patterns are anchored, ``^...$``, and ECMA's
    ``$`` ends the string, where Python's also matches before a final newline; so the whole string must match."""
    from jsonschema import ValidationError as SchemaError

    if validator.is_type(instance, "string") and re.fullmatch(pattern, instance) is None:
        yield SchemaError(f"{instance!r} does not match {pattern!r}")


@cache
def _validator() -> Any:
    from jsonschema import Draft202012Validator, validators

    checker = validators.extend(Draft202012Validator, {"pattern": _whole_string_pattern})  # type: ignore[no-untyped-call]
    return checker(schema())


def valid_id(pid: str) -> bool:
    """Whether ``pid`` is a patient id as the schema defines it (the whole string matching its pattern).

    >>> valid_id("P-01"), valid_id("P1\\n"), valid_id(""), valid_id("a/b")
    (True, False, False, False)
    """
    return isinstance(pid, str) and re.fullmatch(schema()["properties"]["id"]["pattern"], pid) is not None


def _where(source: str, path: list[str | int]) -> str:
    dotted = ".".join(str(p) for p in path)
    dotted = _clip(dotted if dotted.isprintable() else repr(dotted), 120)  # a field name is the user's text
    return f"{source}: {dotted}" if dotted else source


Namer = Callable[[list[str | int]], str]


def from_json(data: Any, source: str = "patient") -> Patient:
    """A patient from a parsed JSON object; a bad field raises ValidationError naming it and the rule.

    >>> p = from_json({"schema": "smnpc-kg/patient/1.0", "id": "P1", "metastatic_sites": ["bone"], "lesion_count": 2})
    >>> p.facts["boneMetastasis"], p.facts["liverMetastasis"], p.facts["lesionCount"]
    (True, False, 2)
    """
    _validate(data, source, lambda path: _where(source, path))
    assert isinstance(data, dict)
    facts = _facts(data)
    if "metastatic_sites" in data:
        for site, prop in SITES.items():
            facts[prop] = site in data["metastatic_sites"]
    patient = Patient(data["id"], facts, data.get("label", ""), source)
    check_rules(patient)
    return patient


def _validate(data: Any, source: str, name: Namer) -> None:
    """The cheap bounds first, then the schema; ``name`` turns a path in the JSON form into a place to report."""
    _check_bounds(data, source, name)
    errors = sorted(_validator().iter_errors(data), key=lambda e: [(isinstance(p, str), p if isinstance(p, int) else 0, str(p))
                                                                   for p in e.absolute_path])
    if errors:
        first = errors[0]
        details = [f"{name(list(e.absolute_path))}: {_clip(e.message)}" for e in errors[:MAX_DETAILS]]
        raise ValidationError(_clip(first.message), where=name(list(first.absolute_path)), hint=SCHEMA_HINT, details=details)


def _clip(text: str, width: int = 300) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


class _LongInteger:
    """An integer literal with more digits than any field allows; kept unconverted (Python refuses over 4300)."""

    def __init__(self, digits: int) -> None:
        self.digits = digits


def _integer(text: str) -> int | _LongInteger:
    digits = len(text.lstrip("-"))
    return int(text) if digits <= MAX_DIGITS else _LongInteger(digits)


def _check_bounds(data: Any, source: str, name: Namer) -> None:
    """Depth, sizes, finite numbers and integer size, in one pass without recursion (hostile input cannot exhaust
    the stack, and the validator never sees a long array or string)."""
    todo: list[tuple[Any, list[str | int]]] = [(data, [])]
    while todo:
        item, path = todo.pop()
        if isinstance(item, dict | list) and len(path) >= MAX_DEPTH:
            raise ValidationError(f"nested more than {MAX_DEPTH} levels deep", where=source,
                                  hint=f"a patient is a flat object (see the patient schema {SCHEMA_VERSION})")
        problem = None
        if isinstance(item, dict):
            if len(item) > MAX_ITEMS:
                problem = f"an object with {len(item)} fields, more than the {MAX_ITEMS} any object may have"
            elif any(not isinstance(k, str) or len(k) > MAX_TEXT or not _unicode(k) for k in item):
                problem = f"a field name that is not text of at most {MAX_TEXT} characters"
            else:
                todo.extend((value, [*path, key]) for key, value in item.items())
        elif isinstance(item, list):
            if len(item) > MAX_ITEMS:
                problem = f"a list of {len(item)} items, more than the {MAX_ITEMS} any list may hold"
            else:
                todo.extend((value, [*path, i]) for i, value in enumerate(item))
        elif isinstance(item, str):
            if len(item) > MAX_TEXT:
                problem = f"a text of {len(item)} characters, more than the {MAX_TEXT} any text may have"
            elif not _unicode(item):
                problem = "a text with an unpaired surrogate (\\ud800-\\udfff), which is not Unicode text"
        elif isinstance(item, float | Decimal):
            if not (item.is_finite() if isinstance(item, Decimal) else math.isfinite(item)):
                nan = item.is_nan() if isinstance(item, Decimal) else math.isnan(item)
                problem = f"{'NaN' if nan else str(item).replace('inf', 'Infinity')} is not a finite number"
            elif _places(item) > MAX_PLACES:
                problem = f"a number with {_places(item)} decimal places, more than the {MAX_PLACES} any number may have"
        elif isinstance(item, _LongInteger):
            problem = f"a whole number of {item.digits} digits is out of range"
        elif isinstance(item, int) and not isinstance(item, bool) and item.bit_length() > 64:
            problem = f"a whole number of about {int(item.bit_length() * math.log10(2)) + 1} digits is out of range"
        elif item is not None and not isinstance(item, bool | int):
            problem = f"a value of type {type(item).__name__} is not JSON"
        if problem:
            raise ValidationError(problem, where=name(path), hint=SCHEMA_HINT)


def _places(number: float | Decimal) -> int:
    """Decimal places of a finite number as written (1E-9999 would print as ten thousand digits)."""
    exponent = (number if isinstance(number, Decimal) else Decimal(repr(number))).as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _unicode(text: str) -> bool:
    """Whether ``text`` is Unicode text (JSON's \\ud800 escapes can make a lone surrogate, which no output can encode)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _facts(record: dict[str, Any]) -> dict[str, Value]:
    """The facts a validated record in the JSON form states (the metastatic sites apart)."""
    facts: dict[str, Value] = {}
    for key, prop in SCALARS.items():
        if key in record:
            facts[prop] = _value(prop, record[key])
    if "n_stage" in record:
        facts["nCategory"] = int(record["n_stage"][1])
    for key, (prop, codes) in CODES.items():
        if key in record and record[key] in codes:
            facts[prop] = codes[record[key]]
    for key, prop in CHEN2016.items():
        if key in record.get("chen2016", {}):
            facts[prop] = _value(prop, record["chen2016"][key])
    return facts


def parse_json(text: str, where: str) -> Any:
    """JSON text to Python values; any syntax problem, or nesting too deep to parse, is a ParseError at line:column.

    NaN and Infinity parse (as non-finite floats) and an integer literal of more than MAX_DIGITS digits is kept
    unconverted, so that validation can refuse either naming its field; a field given twice in one object is refused.
    """
    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        record: dict[str, Any] = {}
        for key, value in pairs:
            if key in record:
                raise ParseError(f"the field {_clip(repr(key), 80)} is given twice in one object", where=where,
                                 hint="give each field once")
            record[key] = value
        return record

    try:
        return json.loads(text, parse_int=_integer, object_pairs_hook=unique)
    except json.JSONDecodeError as exc:
        raise ParseError(f"not valid JSON: {exc.msg}", where=f"{where}:{exc.lineno}:{exc.colno}",
                         hint="fix the JSON syntax (a missing comma or quote is common)") from exc
    except RecursionError as exc:
        raise ParseError("JSON nested too deeply to read", where=where, hint="a patient is a flat object") from exc


def parse_patients(text: str, where: str, max_patients: int = MAX_PATIENTS) -> tuple[list[Patient], bool]:
    """The patients of a JSON text (one object or a list) and whether it was a list; everything checked.

    At most ``max_patients`` (more raise TooManyPatients), each converted and checked as by from_json, and no
    id used twice; every error is a ParseError or ValidationError naming the place.

    >>> [p.id for p in parse_patients('[{"schema": "smnpc-kg/patient/1.0", "id": "A"}]', "body")[0]]
    ['A']
    >>> try:
    ...     parse_patients('{"schema": "smnpc-kg/patient/1.0", "id": "A", "months_to_progression": NaN}', "body")
    ... except ValidationError as exc:
    ...     print(exc.where, "-", exc.message)
    body: months_to_progression - NaN is not a finite number
    """
    data = parse_json(text, where)
    is_list = isinstance(data, list)
    items = data if is_list else [data]
    if len(items) > max_patients:
        raise TooManyPatients(f"{len(items)} patients, more than the {max_patients} allowed at once", where=where,
                              hint=f"send at most {max_patients} patients at a time")
    positions = [f"[{i}]" for i in range(len(items))]
    patients = [from_json(item, f"{where}{positions[i]}" if len(items) > 1 else where) for i, item in enumerate(items)]
    refuse_duplicates(patients, positions, where)
    return patients, is_list


def refuse_duplicates(patients: list[Patient], positions: list[str], where: str) -> None:
    """A ValidationError naming the first id used twice and both its positions."""
    seen: dict[str, int] = {}
    for i, p in enumerate(patients):
        if p.id in seen:
            raise ValidationError(f"patient id {p.id!r} is used more than once: {positions[seen[p.id]]} and {positions[i]}",
                                  where=where, hint="give each patient its own id")
        seen[p.id] = i


def _value(prop: str, raw: Any) -> Value:
    if prop in DECIMALS:
        return Decimal(str(raw))
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)  # JSON Schema counts 2.0 as an integer
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
    """Patients from a JSON file (one object or a list) or a Turtle file (nodes typed smo:Patient).

    The file must be a regular file of at most MAX_INPUT_BYTES (a device, FIFO or directory is refused unread).
    """
    from smnpc_kg.core.inputs import read_text, shown

    name = shown(path)
    text = read_text(path, what="patient file", hint="give a patient file: JSON (.json) or Turtle (.ttl)")
    if path.suffix.lower() == ".json" or text.lstrip()[:1] in ("{", "["):
        patients, _ = parse_patients(text, name, MAX_FILE_PATIENTS)
        if not patients:
            raise ValidationError("an empty list: no patient in the file", where=name, hint="give at least one patient")
    elif path.suffix.lower() in (".ttl", ".turtle"):
        patients = from_graph(patient_turtle(text, name, path.resolve().as_uri()), name)
    else:
        raise ParseError("a patient file is JSON (.json) or Turtle (.ttl)", where=name,
                         hint=f"write the patient as JSON following {SCHEMA_VERSION}, or as Turtle with smo: patient terms")
    return patients


#: The place of each ontology property in the JSON form (the metastatic sites are per-site booleans in RDF).
JSON_PATH: dict[str, list[str]] = {**{prop: [key] for key, prop in SCALARS.items()},
                                         **{prop: ["chen2016", key] for key, prop in CHEN2016.items()},
                                         "nCategory": ["n_stage"], **{prop: [key] for key, (prop, _) in CODES.items()}}
_PROPERTY_AT: dict[tuple[str | int, ...], str] = {tuple(path): prop for prop, path in JSON_PATH.items()}


def _field_schema(path: list[str]) -> dict[str, Any]:
    node = schema()
    for key in path:
        node = node["properties"][key]
    return node


def from_graph(graph: Graph, source: str = "patient graph") -> list[Patient]:
    """Patients from RDF using the ontology's patient terms, checked by the same schema as JSON patients.

    Each patient node is turned into the JSON form (its IRI's last part the id) and validated as from_json
    validates, so ids, enums, ranges and bounds are one set of rules; RDF adds its own checks of datatypes.
    """
    from smnpc_kg.core.inputs import shown

    nodes = sorted(set(graph.subjects(RDF.type, SMO.Patient)), key=str)
    if len(nodes) > MAX_FILE_PATIENTS:
        raise TooManyPatients(f"{len(nodes)} patients, more than the {MAX_FILE_PATIENTS} read at once", where=source,
                              hint="split the file")
    patients = []
    for node in nodes:
        if not isinstance(node, URIRef) or not str(node).startswith(PATIENT):
            raise ValidationError(f"a patient's IRI must start with {PATIENT}", where=f"{source}: {shown(str(node))}",
                                  hint="name the patient <https://w3id.org/smnpc-kg/id/patient/ID>")
        pid = str(node)[len(PATIENT):]
        at = f"{source}: patient/{shown(pid)}"
        record: dict[str, Any] = {"schema": SCHEMA_VERSION, "id": pid}
        sites: dict[str, Value] = {}
        labels = list(graph.objects(node, RDFS.label))
        if len(labels) > 1:
            raise ValidationError("two values for rdfs:label", where=at, hint="give one label")
        if labels and not isinstance(labels[0], Literal):
            raise ValidationError("expected a literal value", where=f"{at} rdfs:label", hint="write the label as a string")
        if labels:
            record["label"] = str(labels[0])
        for pred, obj in graph.predicate_objects(node):
            if pred == RDF.type or pred == RDFS.label:
                continue
            local = str(pred)[len(str(SMO)):] if str(pred).startswith(str(SMO)) else None
            if local not in PROPERTIES:
                raise ValidationError(f"unknown patient fact {shown(pred.n3(graph.namespace_manager))}", where=at,
                                      hint="use the ontology's patient properties (smo:lesionCount, smo:liverMetastasis, ...)")
            assert local is not None
            path = JSON_PATH.get(local)
            parent = record.setdefault("chen2016", {}) if path and len(path) == 2 else record
            if (local in sites) if path is None else (path[-1] in parent):
                raise ValidationError(f"two values for smo:{local}", where=at, hint="give each fact once")
            value = _from_rdf(local, obj, f"{at} smo:{local}")
            if path is None:
                sites[local] = value
            else:
                parent[path[-1]] = value

        def name(path: list[str | int], at: str = at, node: object = node) -> str:
            if path == ["id"]:
                return f"{source}: {shown(str(node))}"
            if path == ["label"]:
                return f"{at} rdfs:label"
            prop = _PROPERTY_AT.get(tuple(path))
            return f"{at} smo:{prop}" if prop else at

        _validate(record, source, name)
        patient = Patient(pid, {**sites, **_facts(record)}, record.get("label", ""), source)
        check_rules(patient)
        patients.append(patient)
    if not patients:
        raise ValidationError("no patient in the file", where=source, hint="type each patient `a smo:Patient`")
    return patients


def _from_rdf(local: str, obj: object, where: str) -> Any:
    """One RDF value in the JSON form: a code for an individual, a Python value of the right kind for a literal."""
    for prop, codes in CODES.values():
        if prop == local:
            code = next((c for c, iri in codes.items() if iri == obj), None)
            if code is None:
                raise ValidationError(f"unknown code {shown_term(obj)}", where=where,
                                      hint=f"use one of {', '.join(sorted(str(c) for c in codes.values()))}")
            return code
    if not isinstance(obj, Literal):
        raise ValidationError("expected a literal value", where=where, hint="write a number, true/false or a string")
    if obj.ill_typed:
        datatype = f"xsd:{obj.datatype[len(str(XSD)):]}" if obj.datatype and obj.datatype.startswith(str(XSD)) else str(obj.datatype)
        digits = str(obj).lstrip("+-")
        if digits.isascii() and digits.isdigit():  # an integer too long for Python to convert
            raise ValidationError(f"a whole number of {len(digits)} digits is out of range", where=where, hint=SCHEMA_HINT)
        raise ValidationError(f"the value is not a valid {shown_term(datatype)}", where=where, hint="write a value of that datatype")
    value = obj.toPython()
    path = JSON_PATH.get(local)
    kind = _field_schema(path).get("type") if path else "boolean"
    if local == "nCategory":
        kind = "integer"
    if kind == "boolean" and not isinstance(value, bool):
        raise ValidationError(f"expected true or false, got {shown_term(obj)}", where=where, hint="write true or false")
    if kind == "integer" and (isinstance(value, bool) or not isinstance(value, int)):
        raise ValidationError(f"expected a whole number, got {shown_term(obj)}", where=where, hint="write a whole number")
    if kind == "number" and (isinstance(value, bool) or not isinstance(value, int | float | Decimal)):
        raise ValidationError(f"expected a number, got {shown_term(obj)}", where=where, hint="write a number")
    if not isinstance(value, bool | int | float | Decimal | str):
        raise ValidationError(f"expected a number, true/false or a string, got {shown_term(obj)}", where=where,
                              hint="write the value as the patient schema gives it")
    if local == "nCategory" and isinstance(value, int) and 0 <= value <= 9:
        return f"N{value}"  # the JSON form (N0-N3); another number stays a number, which the schema refuses
    return value


def patient_turtle(text: str, name: str, base: str) -> Graph:
    """A patient file's Turtle as an rdflib graph, read by Oxigraph's strict parser, which keeps each literal's text.

    (rdflib's own parser stops at an integer of more than 4300 digits, before its triple can be named; here such
    a literal stays in the graph, ill-typed, and from_graph names the fact.) A syntax error is a ParseError at
    line and column, as for every Turtle file.
    """
    import pyoxigraph as ox

    from smnpc_kg.kg.build import parse_turtle_text

    try:
        triples = list(ox.parse(text.encode("utf-8"), format=ox.RdfFormat.TURTLE, base_iri=base))
    except SyntaxError:
        return parse_turtle_text(text, name, base)  # raises the ParseError that names the line and column
    graph = Graph()
    graph.bind("smo", SMO)

    def term(node: object) -> URIRef | BNode | Literal:
        if isinstance(node, ox.NamedNode):
            return URIRef(node.value)
        if isinstance(node, ox.BlankNode):
            return BNode(node.value)
        if isinstance(node, ox.Literal):
            if node.language:
                return Literal(node.value, lang=node.language)
            return Literal(node.value, datatype=None if node.datatype == ox.NamedNode(str(XSD.string)) else URIRef(node.datatype.value))
        raise ParseError("a quoted triple is not a patient fact", where=name, hint="write plain triples")

    with _quiet_rdflib():  # an ill-typed literal is reported by from_graph, as one line naming the fact
        for t in triples:
            graph.add((term(t.subject), term(t.predicate), term(t.object)))
    return graph


@contextmanager
def _quiet_rdflib() -> Iterator[None]:
    """rdflib logs a traceback (and warns) when a literal does not fit its datatype; the caller reports it instead."""
    logger = logging.getLogger("rdflib.term")
    disabled = logger.disabled
    logger.disabled = True
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.disabled = disabled


def shown_term(term: object) -> str:
    """An RDF term for a one-line message, clipped."""
    text = term.n3() if isinstance(term, URIRef | Literal | BNode) else str(term)
    return _clip(text if text.isprintable() else repr(text), 120)


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
