"""Data integrity across formats: export -> import -> export gives the same bytes, and the audit passes on every import."""

from __future__ import annotations

from pathlib import Path

import pytest
from rdflib import Graph
from rdflib.compare import isomorphic

from smnpc_kg.kg.audit import read_exceptions, run_audit
from smnpc_kg.kg.build import Counts, Project, serialize
from smnpc_kg.kg.dist import DIST_FILES, publish
from smnpc_kg.kg.export import FORMATS, export
from smnpc_kg.kg.source import SourceText
from smnpc_kg.store.embedded import OxigraphStore


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_export_import_export_round_trip(tmp_path: Path, built: tuple[Path, Counts], project: Project, fmt: str) -> None:
    dist, counts = built
    original = Graph().parse(dist / "smnpc-kg.nt", format="nt")
    first = export(dist, fmt, tmp_path / f"first.{fmt}")
    imported = Graph().parse(first, format=FORMATS[fmt])
    assert len(imported) == counts.triples and isomorphic(imported, original)
    # the audit passes on what was imported
    report = run_audit(OxigraphStore.from_graph(imported), SourceText.from_file(project.source_file),
                       read_exceptions(project.root / "evidence" / "coverage-exceptions.tsv"))
    assert report.ok and not report.failures and not report.gaps
    # published again, the import is the same build, byte for byte, and exports to the same bytes
    again = publish(serialize(imported), counts.as_dict(), tmp_path / "dist")
    for name in DIST_FILES:
        assert (again / name).read_bytes() == (dist / name).read_bytes(), name
    second = export(tmp_path / "dist", fmt, tmp_path / f"second.{fmt}")
    assert second.read_bytes() == first.read_bytes()
