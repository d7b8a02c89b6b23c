"""Remote engines: the whole query library and the example patients on Oxigraph server and Virtuoso, as embedded."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pytest
from rdflib import Graph

from smnpc_kg.clinical.classify import Classifier, Definitions, report_json
from smnpc_kg.clinical.pathway import Pathway, as_json
from smnpc_kg.clinical.patient import read_patients
from smnpc_kg.kg.build import Counts
from smnpc_kg.kg.queries import library
from smnpc_kg.store.embedded import OxigraphStore, Results, Term
from smnpc_kg.store.remote import RemoteStore
from tests.servers import oxigraph_server, virtuoso_server

pytestmark = pytest.mark.integration  # each test starts Oxigraph server or Virtuoso

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = library(ROOT / "queries")
PATIENTS = [p for path in sorted((ROOT / "examples" / "patients").glob("p*.*")) for p in read_patients(path)]


def value(term: Term) -> object:
    if (term.datatype or "").endswith("#boolean"):
        return term.value in ("true", "1")  # "1" is a lexical form of true (Virtuoso writes it)
    text = term.value
    if text == "":
        return None  # an empty GROUP_CONCAT: "" (Virtuoso, as SPARQL 1.1 says) or unbound (Oxigraph)
    try:
        return Decimal(text).normalize()
    except InvalidOperation:
        # GROUP_CONCAT's order is not defined by SPARQL: compare concatenations as sorted lists
        import re

        return tuple(sorted(re.split(r" \| | / |,| and ", text)))


def rows(results: Results, narrow: bool = False) -> list[tuple[object, ...]]:
    """Rows compared by value: numbers as numbers, concatenations as sets; order kept (queries sort).

    ``narrow``: Virtuoso 7.2 builds CONCAT results as narrow strings, so a non-ASCII character a query
    adds itself (the en dash of "54.5–72.7") comes back as "?"; the data's own characters are intact.
    """
    out = []
    for r in results.rows:
        row = []
        for v in results.variables:
            term = r.get(v)
            if term is not None and narrow and term.type == "literal":
                term = Term(term.type, term.value.replace("–", "?"), term.datatype, term.lang)
            row.append(value(term) if term is not None else None)
        out.append(tuple(row))
    return out


def same_answers(remote: RemoteStore, embedded: OxigraphStore, narrow: bool = False) -> None:
    for q in LIBRARY:
        got, want = remote.query(q.text), embedded.query(q.text)
        assert sorted(map(repr, rows(got, narrow))) == sorted(map(repr, rows(want, narrow))), q.name


def same_patients(remote: RemoteStore, embedded: OxigraphStore) -> None:
    definitions = Definitions(Graph().parse(ROOT / "ontology" / "smnpc.ttl"))
    here, there = Classifier(definitions, embedded), Classifier(definitions, remote)
    path_here, path_there = Pathway(embedded, definitions), Pathway(remote, definitions)
    for p in PATIENTS:
        assert report_json(there.report(p)) == report_json(here.report(p)), p.id
        assert as_json(path_there.walk(p), path_there) == as_json(path_here.walk(p), path_here), p.id


@pytest.fixture(scope="module")
def oxigraph(tmp_path_factory: pytest.TempPathFactory, built: tuple[Path, Counts]) -> Iterator[str]:
    with oxigraph_server(built[0] / "smnpc-kg.nt", tmp_path_factory.mktemp("oxigraph")) as url:
        yield url


def test_oxigraph_server_answers_like_embedded(oxigraph: str, store: OxigraphStore) -> None:
    remote = RemoteStore(f"{oxigraph}/query")
    same_answers(remote, store)
    same_patients(remote, store)


def test_push_to_a_writable_store_is_rerunnable(tmp_path: Path, built: tuple[Path, Counts], store: OxigraphStore) -> None:
    root = tmp_path / "project"
    (root / "ontology").mkdir(parents=True)
    (root / "ontology" / "smnpc.ttl").symlink_to(ROOT / "ontology" / "smnpc.ttl")
    (root / "dist").symlink_to(built[0])
    count = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
    with oxigraph_server(built[0] / "smnpc-kg.nt", tmp_path, writable=True) as url:
        for _ in range(2):  # the same end state however often it runs
            proc = subprocess.run([sys.executable, "-m", "smnpc_kg.cli", "--root", str(root), "push", "--endpoint", f"{url}/query"],
                                  capture_output=True, text=True)
            assert proc.returncode == 0, proc.stderr
            assert RemoteStore(f"{url}/query").query(count).rows[0]["n"].value == store.query(count).rows[0]["n"].value


def push_project(tmp_path: Path, built: tuple[Path, Counts]) -> Path:
    root = tmp_path / "project"
    (root / "ontology").mkdir(parents=True)
    (root / "ontology" / "smnpc.ttl").symlink_to(ROOT / "ontology" / "smnpc.ttl")
    (root / "dist").symlink_to(built[0])
    return root


def run_push(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "smnpc_kg.cli", "--root", str(root), "push", *args],
                          capture_output=True, text=True, timeout=600)


COUNT = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"


def test_readers_see_the_old_graph_or_the_new_one_never_a_part(tmp_path: Path, built: tuple[Path, Counts],
                                                                store: OxigraphStore) -> None:
    """While `push` replaces a graph on Oxigraph server, a reader counting triples sees the old count or the new one."""
    root = push_project(tmp_path, built)
    new = int(store.query(COUNT).rows[0]["n"].value)
    filler = "".join(f"<urn:smnpc-kg:test:old:{i}> <urn:smnpc-kg:test:p> \"{i}\" .\n" for i in range(60_000))
    old_data = (built[0] / "smnpc-kg.nt").read_bytes() + filler.encode("ascii")
    old = new + 60_000
    with oxigraph_server(built[0] / "smnpc-kg.nt", tmp_path / "server", writable=True) as url:
        put = urllib.request.Request(f"{url}/store?default", data=old_data, method="PUT", headers={"Content-Type": "application/n-triples"})
        with urllib.request.urlopen(put, timeout=300):
            pass
        reader = RemoteStore(f"{url}/query", retries=0)
        assert int(reader.query(COUNT).rows[0]["n"].value) == old
        seen: list[int] = []
        pushing = threading.Event()
        done = threading.Event()

        def read() -> None:
            deadline = time.monotonic() + 300  # bounded: stops by itself
            while not done.is_set() and time.monotonic() < deadline:
                count = int(reader.query(COUNT).rows[0]["n"].value)
                if pushing.is_set():
                    seen.append(count)

        thread = threading.Thread(target=read, daemon=True)
        thread.start()
        try:
            pushing.set()
            for _ in range(3):  # the first push replaces the old graph, the others replace the new one with itself
                proc = run_push(root, "--endpoint", f"{url}/query")
                assert proc.returncode == 0, proc.stderr
        finally:
            done.set()
            thread.join(timeout=60)
        assert len(seen) >= 10, "the reader did not read during the pushes"
        assert set(seen) <= {old, new}, f"readers saw a part of a graph: {sorted(set(seen) - {old, new})[:10]}"
        assert int(reader.query(COUNT).rows[0]["n"].value) == new
        assert "one update" in proc.stdout
        # the staging graphs are gone: no named graph is left behind
        assert reader.query("ASK { GRAPH ?g { ?s ?p ?o } }").boolean is False


def test_push_to_a_graph_store_alone_is_a_plain_put_and_says_so(tmp_path: Path, built: tuple[Path, Counts],
                                                               store: OxigraphStore) -> None:
    root = push_project(tmp_path, built)
    with oxigraph_server(built[0] / "smnpc-kg.nt", tmp_path / "server", writable=True) as url:
        proc = run_push(root, "--endpoint", f"{url}/query", "--graph-store", f"{url}/store")
        assert proc.returncode == 0, proc.stderr
        assert "plain PUT" in proc.stdout and "store's own guarantee" in proc.stdout
        assert RemoteStore(f"{url}/query").query(COUNT).rows[0]["n"].value == store.query(COUNT).rows[0]["n"].value


def test_a_push_refused_half_way_leaves_the_old_graph_and_no_staging_graph(tmp_path: Path, built: tuple[Path, Counts],
                                                                           store: OxigraphStore) -> None:
    from smnpc_kg.core.errors import StoreError
    from smnpc_kg.store.remote import push

    data = (built[0] / "smnpc-kg.nt").read_bytes()
    broken = data[: len(data) // 2] + b"\n<not an IRI> <urn:p> <urn:o> .\n"
    with oxigraph_server(built[0] / "smnpc-kg.nt", tmp_path / "server", writable=True) as url:
        push(data, f"{url}/store", update=f"{url}/update")
        with pytest.raises(StoreError, match="refused the upload with 400") as caught:
            push(broken, f"{url}/store", update=f"{url}/update", retries=0)
        assert "\n" not in str(caught.value)
        reader = RemoteStore(f"{url}/query")
        assert reader.query(COUNT).rows[0]["n"].value == store.query(COUNT).rows[0]["n"].value
        assert reader.query("ASK { GRAPH ?g { } }").boolean is False  # the store answered, so its staging graph was removed


def test_push_to_a_dead_store_says_so(tmp_path: Path, built: tuple[Path, Counts]) -> None:
    from smnpc_kg.core.errors import StoreError
    from smnpc_kg.store.remote import push
    from tests.servers import free_port

    with pytest.raises(StoreError, match="the upload failed after 2 attempts"):
        push((built[0] / "smnpc-kg.nt").read_bytes(), f"http://127.0.0.1:{free_port()}/store", retries=1, backoff_s=0.01)


def test_query_on_a_dead_endpoint_says_so() -> None:
    from smnpc_kg.core.errors import StoreError
    from tests.servers import free_port

    with pytest.raises(StoreError, match="did not answer after 3 attempts"):
        RemoteStore(f"http://127.0.0.1:{free_port()}/query", retries=2, backoff_s=0.01).query("ASK {}")


def test_virtuoso_answers_like_embedded(tmp_path: Path, built: tuple[Path, Counts], store: OxigraphStore) -> None:
    with virtuoso_server(built[0] / "smnpc-kg.nt", tmp_path) as url:
        remote = RemoteStore(url)
        same_answers(remote, store, narrow=True)
        same_patients(remote, store)
