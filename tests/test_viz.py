"""The pictures: the pathway SVG with a patient's route, and the forest plot of Table 2."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from rdflib import Graph

from smnpc_kg.clinical.classify import Definitions
from smnpc_kg.clinical.pathway import Pathway
from smnpc_kg.clinical.patient import read_patients
from smnpc_kg.present.viz import forest_plot, hazard_rows, pathway_dot, write_svg
from smnpc_kg.store.embedded import OxigraphStore

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def pathway(store: OxigraphStore, project) -> Pathway:  # type: ignore[no-untyped-def]
    return Pathway(store, Definitions(Graph().parse(project.ontology_files[0])))


def test_dot_marks_the_patients_route(pathway: Pathway) -> None:
    [p] = read_patients(ROOT / "examples" / "patients" / "p07-single-liver-lesion.json")
    walk = pathway.walk(p)
    source = pathway_dot(pathway, walk)
    applied = {o.step.step.rsplit("/", 1)[1].replace("-", "_") for o in walk.applicable()}
    for node in applied:
        assert re.search(rf"\b{node} \[[^\]]*fillcolor=\"#b7e4c7\"", source), node
    assert re.search(r"\blocal_therapy_bone \[[^\]]*fillcolor=\"#eeeeee\"", source)
    assert "smNPC treatment pathway for patient P07" in source


def test_svg_is_written(pathway: Pathway, tmp_path: Path) -> None:
    if shutil.which("dot") is None:  # fail, not skip: `make` installs it, so its absence is a set-up fault
        pytest.fail("Graphviz dot is needed: `make` installs Debian's graphviz")
    out = write_svg(pathway_dot(pathway), tmp_path / "pathway.svg")
    text = out.read_text(encoding="utf-8")
    assert text.lstrip().startswith("<?xml") and "<svg" in text
    assert text.count('class="node"') == len(pathway.steps)


def test_forest_plot_png(store: OxigraphStore, tmp_path: Path) -> None:
    out = forest_plot(store, tmp_path / "forest.png")
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    assert not list(tmp_path.glob(".forest-*")), "no temporary file left behind"


def test_the_inverted_hazard_ratio_is_read_from_the_arms(store: OxigraphStore) -> None:
    """Only Zeng 2014 (ref 11) prints its HR for chemo alone against chemo + RT; the plot learns it from the interventions."""
    rows = hazard_rows(store)
    assert len(rows) == 5
    assert {row["ref"].value for row in rows if row["inverse"].value == "true"} == {"11"}
