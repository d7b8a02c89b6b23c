"""One shared KG fixture: the project's real evidence, built once per test session."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from smnpc_kg.kg.build import Counts, Project, build
from smnpc_kg.store.embedded import OxigraphStore
from tests.servers import smnpc_server

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def project() -> Project:
    return Project(ROOT)


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory, project: Project) -> tuple[Path, Counts]:
    """The KG built (with SHACL and HermiT) into a temporary dist folder."""
    out = tmp_path_factory.mktemp("dist")
    counts = build(project, out=out)
    return out, counts


@pytest.fixture(scope="session")
def store(built: tuple[Path, Counts]) -> OxigraphStore:
    return OxigraphStore.from_dist(built[0])


@pytest.fixture(scope="session")
def served_root(tmp_path_factory: pytest.TempPathFactory, built: tuple[Path, Counts]) -> Path:
    """A project root whose dist/ is the session's built KG (ontology and queries linked from the repository)."""
    root = tmp_path_factory.mktemp("served")
    (root / "ontology").mkdir()
    (root / "ontology" / "smnpc.ttl").symlink_to(ROOT / "ontology" / "smnpc.ttl")
    (root / "queries").symlink_to(ROOT / "queries")
    (root / "dist").symlink_to(built[0])
    return root


@pytest.fixture()
def scratch_project(tmp_path: Path) -> Project:
    """A disposable copy of the project's inputs, for tests that break them on purpose."""
    for folder in ("ontology", "evidence", "queries"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    return Project(tmp_path)


@pytest.fixture(scope="session")
def server(served_root: Path) -> Iterator[str]:
    """`smnpc-kg serve` over the session's KG with short limits (3 s, 300 kB results), for the endpoint tests."""
    with smnpc_server(served_root, "--timeout", "3", "--max-result-bytes", "300000", "--workers", "2") as url:
        yield url
