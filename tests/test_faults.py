"""Faults: a build killed mid-write, a damaged dist, a flaky or dying remote store; nothing is lost or served half."""

from __future__ import annotations

import http.client
import itertools
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from smnpc_kg.core.errors import DistError, StoreError
from smnpc_kg.kg.build import Counts, Project
from smnpc_kg.kg.dist import builds_folder, verify
from smnpc_kg.store.embedded import OxigraphStore
from smnpc_kg.store.remote import RemoteStore, push
from tests.servers import free_port, http_in_thread, oxigraph_server

ROOT = Path(__file__).resolve().parent.parent
COUNT = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
pytestmark = pytest.mark.integration  # builds in subprocesses killed mid-write, Oxigraph server behind a flaky proxy


def cli(root: Path, *args: str, **kw: object) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "smnpc_kg.cli", "--root", str(root), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)  # type: ignore[call-overload]


def run_cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "smnpc_kg.cli", "--root", str(root), *args], capture_output=True, text=True)


# ------------------------------------------------------------------ a build killed part-way
def test_sigkill_during_the_write_leaves_the_previous_build_intact(scratch_project: Project) -> None:
    root = scratch_project.root
    first = run_cli(root, "build", "--no-reason")
    assert first.returncode == 0, first.stderr
    dist = root / "dist"
    before = verify(dist)
    before_target = dist.resolve()
    # a different build to write: the ontology's version changes, so its bytes (and its folder) differ
    ontology = root / "ontology" / "smnpc.ttl"
    ontology.write_text(ontology.read_text().replace('owl:versionInfo "0.1.0"', 'owl:versionInfo "0.1.0-fault-test"'))
    builds = builds_folder(dist)
    rng = random.Random(8)
    kills = ["first partial folder", "first file written"] + [f"after {d:.2f} s" for d in sorted(rng.uniform(1.0, 6.0) for _ in range(4))]
    killed_at = []
    for moment in kills:
        proc = cli(root, "build", "--no-reason")
        start = time.monotonic()
        while proc.poll() is None:
            partials = [p for p in builds.iterdir() if ".partial-" in p.name]
            if moment == "first partial folder" and partials:
                break
            if moment == "first file written" and any(any(p.iterdir()) for p in partials if p.exists()):
                break
            if moment.startswith("after") and time.monotonic() - start >= float(moment.split()[1]):
                break
            time.sleep(0.0005)
        killed = proc.poll() is None
        if killed:
            os.kill(proc.pid, signal.SIGKILL)
        proc.communicate()
        if not killed:  # the build finished before this moment: dist is then the new build, whole
            assert verify(dist)["counts"]["triples"] > 0
            continue
        killed_at.append(moment)
        target = dist.resolve()
        assert target in (before_target, builds / target.name), moment
        manifest = verify(dist)  # whichever build dist points to is complete and matches its manifest
        if target == before_target:
            assert manifest == before, moment
        assert len(OxigraphStore.from_dist(dist)) == manifest["counts"]["triples"], moment
    assert {"first partial folder", "first file written"} <= set(killed_at)  # the kills did land during the write
    final = run_cli(root, "build", "--no-reason")
    assert final.returncode == 0, final.stderr
    assert verify(dist) != before
    leftovers = [p.name for p in builds.iterdir() if ".partial-" in p.name or p.name.startswith(".link-")]
    assert leftovers == []  # what the killed builds left behind is cleared by the next one
    assert len([p for p in builds.iterdir() if p.is_dir()]) <= 2  # the current build and the one before


def test_files_written_into_dist_survive_a_rebuild(scratch_project: Project) -> None:
    root = scratch_project.root
    assert run_cli(root, "build", "--no-reason").returncode == 0
    (root / "dist" / "pathway-p04.svg").write_text("<svg/>")
    ontology = root / "ontology" / "smnpc.ttl"
    ontology.write_text(ontology.read_text().replace('owl:versionInfo "0.1.0"', 'owl:versionInfo "0.1.1"'))
    assert run_cli(root, "build", "--no-reason").returncode == 0
    assert (root / "dist" / "pathway-p04.svg").read_text() == "<svg/>"


# ------------------------------------------------------------------ a damaged dist is reported, never loaded or served
@pytest.fixture()
def damaged_root(tmp_path: Path, built: tuple[Path, Counts]) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "ontology").symlink_to(ROOT / "ontology")
    (root / "queries").symlink_to(ROOT / "queries")
    (root / "evidence").symlink_to(ROOT / "evidence")
    shutil.copytree(built[0], root / "dist")  # a plain copy of the build's files
    return root


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage, file, expect", [
    (truncate, "smnpc-kg.nt", "truncated or changed after the build"),
    (flip_a_byte, "smnpc-kg.nt", "SHA-256 does not match"),
    (flip_a_byte, "smnpc-kg.ttl", "SHA-256 does not match"),
    (truncate, "manifest.json", "manifest is damaged"),
    (os.remove, "smnpc-kg.jsonld", "missing from the build"),
])
def test_a_damaged_build_is_reported_and_not_used(damaged_root: Path, damage: object, file: str, expect: str) -> None:
    assert run_cli(damaged_root, "query", "ASK { ?s ?p ?o }").returncode == 0
    damage(damaged_root / "dist" / file)  # type: ignore[operator]
    with pytest.raises(DistError, match=expect):
        verify(damaged_root / "dist")
    for args in (["query", "ASK { ?s ?p ?o }"], ["classify", str(ROOT / "examples" / "patients" / "p01-solitary-bone-responder.json")],
                 ["export", "--format", "owl", "--out", str(damaged_root / "out.owl")],
                 ["serve", "--port", str(free_port())], ["push", "--endpoint", f"http://127.0.0.1:{free_port()}/query"]):
        proc = run_cli(damaged_root, *args)
        assert proc.returncode == 1, (args, proc.stdout, proc.stderr)
        assert expect in proc.stderr and "smnpc-kg build" in proc.stderr and "Traceback" not in proc.stderr, (args, proc.stderr)
    assert not (damaged_root / "out.owl").exists()
    assert run_cli(damaged_root, "build", "--no-reason").returncode == 0  # and a rebuild repairs it
    verify(damaged_root / "dist")


# ------------------------------------------------------------------ a flaky or dying remote store
@contextmanager
def proxy(upstream: str, plan: list[str]) -> Iterator[tuple[str, list[float]]]:
    """An HTTP proxy on 127.0.0.1 that fails the first requests as ``plan`` says ("503", "drop", "cut") and forwards the rest.

    "cut" forwards half of a request body to the upstream, then closes both connections: an upload that fails half-way.
    """
    seen: list[float] = []
    up = urlsplit(upstream)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _handle(self) -> None:
            seen.append(time.monotonic())
            action = plan.pop(0) if plan else "forward"
            length = int(self.headers.get("Content-Length") or 0)
            if action == "503":
                self.rfile.read(length)
                self.send_response(503)
                self.send_header("Retry-After", "0")  # "busy, try again": the only 503 a client may retry
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if action == "drop":
                self.rfile.read(length)
                self.close_connection = True
                self.connection.shutdown(2)
                return
            conn = http.client.HTTPConnection(up.hostname, up.port, timeout=120)
            conn.putrequest(self.command, self.path, skip_accept_encoding=True)
            for key, value in self.headers.items():
                if key.lower() not in ("host", "connection"):
                    conn.putheader(key, value)
            conn.endheaders()
            if action == "cut":
                conn.send(self.rfile.read(length // 2))
                conn.close()
                self.close_connection = True
                self.connection.shutdown(2)
                return
            if length:
                conn.send(self.rfile.read(length))
            response = conn.getresponse()
            body = response.read()
            self.send_response(response.status)
            for key, value in response.getheaders():
                if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            conn.close()

        do_GET = do_POST = do_PUT = _handle

    with http_in_thread(Handler) as url:
        yield url, seen


@pytest.fixture(scope="module")
def writable_oxigraph(tmp_path_factory: pytest.TempPathFactory, built: tuple[Path, Counts]) -> Iterator[str]:
    with oxigraph_server(built[0] / "smnpc-kg.nt", tmp_path_factory.mktemp("oxigraph-rw"), writable=True) as url:
        yield url


def remote_count(url: str) -> str:
    return RemoteStore(f"{url}/query").query(COUNT).rows[0]["n"].value


def test_the_client_retries_transient_failures_with_backoff(writable_oxigraph: str, store: OxigraphStore) -> None:
    with proxy(writable_oxigraph, ["503", "drop", "503"]) as (url, seen):
        results = RemoteStore(f"{url}/query", retries=3, backoff_s=0.1).query("ASK { }")
    assert results.boolean is True
    assert len(seen) == 4  # three failures, then the answer
    gaps = [b - a for a, b in itertools.pairwise(seen)]
    assert gaps[0] >= 0.1 and gaps[1] >= 0.2 and gaps[2] >= 0.4  # exponential backoff


def test_a_store_that_keeps_failing_gets_one_clear_error(writable_oxigraph: str) -> None:
    with proxy(writable_oxigraph, ["503"] * 10) as (url, seen), pytest.raises(StoreError, match="did not answer after 3 attempts"):
        RemoteStore(f"{url}/query", retries=2, backoff_s=0.01).query("ASK { }")
    assert len(seen) == 3


def test_push_cut_off_half_way_is_reported_and_rerunnable(writable_oxigraph: str, built: tuple[Path, Counts],
                                                         store: OxigraphStore, tmp_path: Path) -> None:
    data = (built[0] / "smnpc-kg.nt").read_bytes()
    with proxy(writable_oxigraph, ["cut"]) as (url, _), pytest.raises(StoreError, match="the upload failed after 1 attempts"):
        push(data, f"{url}/store", retries=0)
    # through the command line: every attempt cut half-way, one clear error and no traceback
    root = tmp_path / "project"
    (root / "ontology").mkdir(parents=True)
    (root / "dist").symlink_to(built[0])
    with proxy(writable_oxigraph, ["cut"] * 10) as (url, seen):
        proc = run_cli(root, "push", "--endpoint", f"{url}/query")
    assert proc.returncode == 1 and "the upload failed after 4 attempts" in proc.stderr and "Traceback" not in proc.stderr
    assert "run push again" in proc.stderr and len(seen) == 4
    # run again (a cut, then a retry that gets through): the same end state as an uninterrupted push, however often
    for _ in range(2):
        with proxy(writable_oxigraph, ["cut"]) as (url, _):
            push(data, f"{url}/store", retries=2, backoff_s=0.05)
        assert remote_count(writable_oxigraph) == store.query(COUNT).rows[0]["n"].value
