"""User-supplied files: devices, FIFOs, directories, sockets and huge files are refused quickly, in one line."""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from smnpc_kg.core.errors import ParseError, QueryError
from smnpc_kg.core.inputs import read_text

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 60  # seconds: a regression that blocks on a FIFO or reads /dev/zero fails instead of hanging the suite
MEMORY = 2 * 2**30  # bytes of address space for the child: reading /dev/zero fails there, not in the machine


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def smnpc(*args: str) -> subprocess.CompletedProcess[str]:
    """The command line in a child process, so that a blocking read cannot hang the test run."""
    start = time.monotonic()
    try:
        proc = subprocess.run([sys.executable, "-m", "smnpc_kg.cli", "--root", str(ROOT), *args],
                              capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL,
                              preexec_fn=_limit_memory)
    except subprocess.TimeoutExpired:
        pytest.fail(f"smnpc-kg {' '.join(args)} did not finish in {TIMEOUT} s")
    assert time.monotonic() - start < TIMEOUT
    return proc


@pytest.fixture()
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "patient.json"  # a name that promises JSON; what it is decides
    os.mkfifo(path)
    return path


def _special(kind: str, tmp_path: Path) -> tuple[Path, str]:
    if kind == "fifo":
        path = tmp_path / "p.ttl"
        os.mkfifo(path)
        return path, "is a named pipe (FIFO), not a regular file"
    if kind == "directory":
        path = tmp_path / "p.json"
        path.mkdir()
        return path, "is a directory, not a regular file"
    if kind == "huge":
        path = tmp_path / "big.json"
        with path.open("wb") as f:
            f.truncate(64 * 2**20)  # sparse: 64 MiB of zeros that take no disk space
        return path, "bytes, more than the limit of"
    return Path("/dev/zero"), "is a character device, not a regular file"


@pytest.mark.parametrize("command", ["classify", "recommend"])
@pytest.mark.parametrize("kind", ["dev-zero", "fifo", "directory", "huge"])
def test_patient_commands_refuse_special_files_in_one_line(tmp_path: Path, command: str, kind: str) -> None:
    path, message = _special(kind, tmp_path)
    proc = smnpc(command, str(path))
    assert proc.returncode == 1
    assert proc.stderr.startswith(f"error: {path}: the patient file ") and message in proc.stderr, proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stdout == ""


@pytest.mark.parametrize("option", [[], ["--context"]])
def test_check_refuses_a_fifo(fifo: Path, option: list[str]) -> None:
    args = [*option, str(fifo)] if option else [str(fifo)]
    proc = smnpc("check", *args, *([str(ROOT / "evidence" / "review.ttl")] if option else []))
    assert proc.returncode == 1
    assert proc.stderr == f"error: {fifo}: the file is a named pipe (FIFO), not a regular file (give the path of a regular file)\n"


def test_read_text_refuses_what_is_not_a_regular_file(tmp_path: Path) -> None:
    sock = tmp_path / "s.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        server.bind(str(sock))
        with pytest.raises(ParseError, match="is a socket, not a regular file"):
            read_text(sock)
    finally:
        server.close()
    with pytest.raises(ParseError, match="/dev/null: the file is a character device"):
        read_text("/dev/null")
    with pytest.raises(QueryError, match="cannot read query file: No such file or directory"):
        read_text(tmp_path / "missing.rq", what="query file", error=QueryError)
    with pytest.raises(ParseError, match="NUL character"):
        read_text("a\x00b")


def test_read_text_bounds_size_and_names_the_bad_byte(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_bytes(b"x" * 100)
    assert read_text(path, limit=100) == "x" * 100
    with pytest.raises(ParseError, match="100 bytes, more than the limit of 99"):
        read_text(path, limit=99)
    path.write_bytes(b'{"id": "\xff"}')
    with pytest.raises(ParseError, match=r"p\.json: not UTF-8 text at byte 8"):
        read_text(path)
    odd = tmp_path / "line\nbreak.json"
    odd.write_bytes(b"\xff")
    with pytest.raises(ParseError) as err:
        read_text(odd)
    assert "\n" not in str(err.value) and "line\\nbreak.json" in str(err.value)

