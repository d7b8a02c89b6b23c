"""Start and stop the servers the integration tests need, on 127.0.0.1 only, each stopped by its own PID."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Listener:
    """A TCP listener on 127.0.0.1 that counts the connections made to it (a stand-in for any address a query might call)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.1)
        self.port = int(self.sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}/sparql"
        self.connections = 0
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            conn.close()


@contextmanager
def listener() -> Iterator[Listener]:
    """A :class:`Listener` for the length of the block, closed afterwards."""
    server = Listener()
    server.thread.start()
    try:
        yield server
    finally:
        server.stopped.set()
        server.thread.join(5)
        server.sock.close()


@contextmanager
def http_in_thread(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A threaded HTTP server with ``handler`` on a free 127.0.0.1 port, for as long as the block runs; yields its URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def wait_http(url: str, proc: subprocess.Popen[bytes], seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read().decode("utf-8", "replace") if proc.stdout else ""
            raise RuntimeError(f"server exited with {proc.returncode}: {out[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {seconds} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@contextmanager
def running(command: list[str], ready_url: str) -> Iterator[None]:
    """A server process in its own session, ready once ``ready_url`` answers, stopped by its PID afterwards."""
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_http(ready_url, proc)
        yield
    finally:
        stop(proc)


@contextmanager
def smnpc_server(root: Path, *extra: str) -> Iterator[str]:
    port = free_port()
    with running([sys.executable, "-m", "smnpc_kg.cli", "--root", str(root), "serve", "--port", str(port), *extra],
                 f"http://127.0.0.1:{port}/sparql"):
        yield f"http://127.0.0.1:{port}"


def oxigraph_exe() -> str:
    exe = shutil.which("oxigraph") or str(Path(sys.executable).parent / "oxigraph")
    if not Path(exe).exists():
        raise RuntimeError("the `oxigraph` server (PyPI package oxigraph) is not installed; `make` installs it")
    return exe


@contextmanager
def oxigraph_server(nt: Path, workdir: Path, writable: bool = False) -> Iterator[str]:
    """Oxigraph server: bulk load, optimize, then serve (read-only unless ``writable``)."""
    exe = oxigraph_exe()
    location = workdir / "oxigraph-db"
    workdir.mkdir(parents=True, exist_ok=True)
    if not writable:
        subprocess.run([exe, "load", "--location", str(location), "--file", str(nt)], check=True, capture_output=True)
        subprocess.run([exe, "optimize", "--location", str(location)], check=True, capture_output=True)
    port = free_port()
    command = "serve-read-only" if not writable else "serve"
    with running([exe, command, "--location", str(location), "--bind", f"127.0.0.1:{port}"],
                 f"http://127.0.0.1:{port}/query?query=ASK%7B%7D"):
        yield f"http://127.0.0.1:{port}"


VIRTUOSO_INI = """[Database]
DatabaseFile = {d}/virtuoso.db
ErrorLogFile = {d}/virtuoso.log
LockFile = {d}/virtuoso.lck
TransactionFile = {d}/virtuoso.trx
xa_persistent_file = {d}/virtuoso.pxa
ErrorLogLevel = 7
FileExtend = 200
MaxCheckpointRemap = 2000
Striping = 0
TempStorage = TempDatabase

[TempDatabase]
DatabaseFile = {d}/virtuoso-temp.db
TransactionFile = {d}/virtuoso-temp.trx
MaxCheckpointRemap = 2000
Striping = 0

[Parameters]
ServerPort = 127.0.0.1:{isql}
LiteMode = 0
DisableUnixSocket = 1
DisableTcpSocket = 0
MaxClientConnections = 10
CheckpointInterval = 60
NumberOfBuffers = 10000
MaxDirtyBuffers = 6000
DirsAllowed = ., {d}, /usr/share/virtuoso-opensource-7/vad
ThreadCleanupInterval = 0
ResourcesCleanupInterval = 0
MaxQueryCostEstimationTime = 400
MaxQueryExecutionTime = 60
DefaultIsolation = 2
TransactionAfterImageLimit = 50000000

[HTTPServer]
ServerPort = 127.0.0.1:{http}
ServerRoot = /var/lib/virtuoso-opensource-7/vsp
MaxClientConnections = 5
ServerThreads = 5

[SPARQL]
ResultSetMaxRows = 100000
MaxQueryExecutionTime = 60
DefaultGraph = urn:smnpc-kg
"""


def isql(port: int, password: str, sql: str) -> str:
    proc = subprocess.run(["isql-vt", f"127.0.0.1:{port}", "dba", password, f"exec={sql}"], capture_output=True, text=True, timeout=600)
    if proc.returncode != 0 or "*** Error" in proc.stdout:
        raise RuntimeError(f"isql failed for {sql!r}: {proc.stdout[-1000:]} {proc.stderr[-1000:]}")
    return proc.stdout


@contextmanager
def virtuoso_server(nt: Path, workdir: Path) -> Iterator[str]:
    """Virtuoso 7 on 127.0.0.1 with its own ini, loaded with ld_dir/rdf_loader_run, dba password changed, stopped by shutdown."""
    if shutil.which("virtuoso-t") is None:
        raise RuntimeError("Virtuoso is not installed; `make test` installs Debian's virtuoso-opensource")
    data = workdir / "virtuoso"
    data.mkdir()
    shutil.copy(nt, data / "smnpc-kg.nt")
    isql_port, http_port = free_port(), free_port()
    (data / "virtuoso.ini").write_text(VIRTUOSO_INI.format(d=data, isql=isql_port, http=http_port), encoding="utf-8")
    proc = subprocess.Popen(["virtuoso-t", "+foreground", "+configfile", str(data / "virtuoso.ini")], cwd=data,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    password = "dba"
    try:
        wait_http(f"http://127.0.0.1:{http_port}/sparql?query=ASK%7B%7D", proc, seconds=120)
        new_password = "smnpc" + str(os.getpid())
        isql(isql_port, password, f"USER_SET_PASSWORD('dba', '{new_password}');")
        password = new_password
        isql(isql_port, password, f"ld_dir('{data}', 'smnpc-kg.nt', 'urn:smnpc-kg');")
        isql(isql_port, password, "rdf_loader_run();")
        isql(isql_port, password, "checkpoint;")
        yield f"http://127.0.0.1:{http_port}/sparql"
    finally:
        if proc.poll() is None:
            try:
                isql(isql_port, password, "shutdown;")
                proc.wait(timeout=30)
            except (RuntimeError, subprocess.TimeoutExpired, OSError):
                stop(proc)
        stop(proc)
