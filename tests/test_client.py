"""The remote client against a real local HTTP server that answers as scripted: only transient failures are retried."""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from smnpc_kg.cli import main
from smnpc_kg.core.errors import QueryError, SmnpcError, StoreError
from smnpc_kg.store.remote import RemoteStore, push
from tests.servers import http_in_thread

ROOT = Path(__file__).resolve().parent.parent
ASK_TRUE = b'{"head": {}, "boolean": true}'


@dataclass
class Answer:
    """One scripted answer: an HTTP status with headers and a body, or ``drop`` (close the connection without a word)."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = ASK_TRUE
    drop: bool = False
    delay_s: float = 0.0


@dataclass
class Seen:
    """One request the server received."""

    at: float
    method: str
    path: str
    body: bytes


OK = Answer()
NO_CONTENT = Answer(204, body=b"")
DROP = Answer(drop=True)


@contextmanager
def scripted(*plan: Answer) -> Iterator[tuple[str, list[Seen]]]:
    """An HTTP server on 127.0.0.1 answering each request with the next answer of ``plan`` (then 200 with ASK true)."""
    seen: list[Seen] = []
    answers = list(plan)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _handle(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with lock:
                seen.append(Seen(time.monotonic(), self.command, self.path, body))
                answer = answers.pop(0) if answers else OK
            time.sleep(answer.delay_s)
            if answer.drop:
                self.close_connection = True
                self.connection.shutdown(2)
                return
            self.send_response(answer.status)
            content_type = "application/sparql-results+json" if answer.status == 200 else "text/plain"
            for key, value in {"Content-Type": content_type, **answer.headers}.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            with contextlib.suppress(OSError):  # the client may have given up waiting
                self.wfile.write(answer.body)

        do_GET = do_POST = do_PUT = do_DELETE = _handle

    with http_in_thread(Handler) as url:
        yield url, seen


def client(url: str, **kw: float) -> RemoteStore:
    return RemoteStore(f"{url}/query", retries=3, backoff_s=0.01, **kw)  # type: ignore[arg-type]


# ------------------------------------------------------------------ not retried: the same request would fail the same way
def test_a_query_the_server_stopped_for_its_time_limit_is_not_retried() -> None:
    timeout = Answer(503, body=b"the query ran over 10 s or 2048 MB and was stopped\n")
    with scripted(timeout, OK) as (url, seen), pytest.raises(StoreError) as caught:
        client(url).query("ASK { }")
    assert len(seen) == 1
    message = str(caught.value)
    assert "stopped the query" in message and "time limit" in message and "\n" not in message


def test_the_command_line_says_so_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with scripted(Answer(503, body=b"the query ran over 10 s and was stopped\n")) as (url, seen):
        code = main(["--root", str(ROOT), "query", "--endpoint", f"{url}/query", "ASK { }"])
    err = capsys.readouterr().err
    assert code == 1 and len(seen) == 1
    assert err.count("\n") == 1 and "time limit" in err and "Traceback" not in err


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413, 414, 500, 504])
def test_client_errors_and_final_server_errors_are_not_retried(status: int) -> None:
    with scripted(Answer(status, body=b"no\nsuch thing"), OK) as (url, seen), pytest.raises(SmnpcError) as caught:
        client(url).query("ASK { }")
    assert len(seen) == 1, f"{status} was retried"
    assert str(status) in str(caught.value) and "\n" not in str(caught.value)
    if status in (400, 413, 414):
        assert isinstance(caught.value, QueryError)  # the query itself is at fault


def test_a_client_side_timeout_is_not_retried() -> None:
    """A query that takes longer than the client waits would take as long again: one attempt, one clear error."""
    with scripted(Answer(delay_s=3.0)) as (url, seen), pytest.raises(StoreError, match="no answer within 1 s"):
        client(url, timeout_s=1.0).query("ASK { }")
    assert len(seen) == 1


def test_an_answer_that_is_not_sparql_results_is_one_clear_error() -> None:
    with scripted(Answer(200, body=b"<html>a login page</html>")) as (url, _), pytest.raises(StoreError, match="not SPARQL"):
        client(url).query("ASK { }")


def test_an_answer_over_the_size_cap_is_refused() -> None:
    big = b'{"head": {"vars": ["x"]}, "results": {"bindings": [' + b",".join([b'{"x": {"type": "literal", "value": "0"}}'] * 5000) + b"]}}"
    with scripted(Answer(200, body=big)) as (url, _), pytest.raises(StoreError, match="larger than 1000 bytes"):
        RemoteStore(f"{url}/query", max_result_bytes=1000).query("SELECT ?x WHERE { ?s ?p ?x }")


# ------------------------------------------------------------------ retried: transient failures
def test_every_worker_busy_is_retried_after_retry_after() -> None:
    busy = Answer(503, {"Retry-After": "1"}, b"every worker stayed busy for 10 s\n")
    with scripted(busy, OK) as (url, seen):
        results = client(url).query("ASK { }")
    assert results.boolean is True
    assert len(seen) == 2
    assert seen[1].at - seen[0].at >= 0.95  # Retry-After honoured, not the 0.01 s backoff


def test_retry_after_is_capped() -> None:
    busy = Answer(503, {"Retry-After": "3600"}, b"busy\n")
    with scripted(busy, OK) as (url, seen):
        assert client(url, max_retry_after_s=0.3).query("ASK { }").boolean is True
    assert len(seen) == 2 and 0.25 <= seen[1].at - seen[0].at < 5


def test_a_retry_after_date_is_understood() -> None:
    import email.utils

    when = email.utils.formatdate(time.time() + 2, usegmt=True)
    with scripted(Answer(503, {"Retry-After": when}), OK) as (url, seen):
        assert client(url).query("ASK { }").boolean is True
    assert len(seen) == 2 and seen[1].at - seen[0].at >= 0.5


@pytest.mark.parametrize("plan", [[DROP], [Answer(502)], [DROP, Answer(502), Answer(503, {"Retry-After": "0"})]],
                         ids=["dropped", "bad-gateway", "mixed"])
def test_transient_failures_are_retried_with_backoff(plan: list[Answer]) -> None:
    with scripted(*plan) as (url, seen):
        assert RemoteStore(f"{url}/query", retries=3, backoff_s=0.05).query("ASK { }").boolean is True
    assert len(seen) == len(plan) + 1
    gaps = [b.at - a.at for a, b in itertools.pairwise(seen)]
    assert all(gap >= 0.05 * 2**i for i, gap in enumerate(gaps))


def test_a_refused_connection_is_retried_then_reported() -> None:
    from tests.servers import free_port

    with pytest.raises(StoreError, match="did not answer after 3 attempts"):
        RemoteStore(f"http://127.0.0.1:{free_port()}/query", retries=2, backoff_s=0.01).query("ASK { }")


# ------------------------------------------------------------------ push: the same rules, and the swap
DATA = b"<urn:a> <urn:b> <urn:c> .\n"


def staging_graph(request: Seen) -> str:
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(request.path).query)
    return query["graph"][0]


@pytest.mark.parametrize("status", [400, 401, 404, 500, 503])
def test_push_does_not_retry_a_final_answer(status: int) -> None:
    with scripted(Answer(status, body=b"no"), NO_CONTENT) as (url, seen), pytest.raises(StoreError, match=str(status)):
        push(DATA, f"{url}/store", retries=3, backoff_s=0.01)
    assert len(seen) == 1


def test_push_retries_a_bad_gateway_and_a_drop() -> None:
    with scripted(Answer(502), DROP, NO_CONTENT) as (url, seen):
        push(DATA, f"{url}/store", retries=3, backoff_s=0.01)
    assert [s.method for s in seen] == ["PUT"] * 3


def test_push_with_an_update_endpoint_loads_a_staging_graph_then_swaps_in_one_update() -> None:
    with scripted(Answer(201, body=b""), NO_CONTENT) as (url, seen):
        push(DATA, f"{url}/store", update=f"{url}/update", retries=1, backoff_s=0.01)
    put, swap = seen
    assert put.method == "PUT" and put.body == DATA
    graph = staging_graph(put)
    assert swap.method == "POST" and swap.path == "/update"
    assert swap.body.decode("utf-8") == f"MOVE <{graph}> TO DEFAULT"


def test_push_removes_its_staging_graph_when_the_swap_fails() -> None:
    with scripted(Answer(201, body=b""), Answer(400, body=b"MOVE not supported"), NO_CONTENT) as (url, seen), \
            pytest.raises(StoreError, match="the swap failed") as caught:
        push(DATA, f"{url}/store", update=f"{url}/update", retries=1, backoff_s=0.01)
    put, swap, cleanup = seen
    assert cleanup.method == "DELETE" and staging_graph(cleanup) == staging_graph(put)
    assert "unchanged" in str(caught.value) and "\n" not in str(caught.value)
    assert swap.method == "POST"


def test_push_with_a_lost_swap_answer_says_what_the_store_may_hold() -> None:
    with scripted(Answer(201, body=b""), DROP, NO_CONTENT) as (url, seen), pytest.raises(StoreError, match="run push again"):
        push(DATA, f"{url}/store", update=f"{url}/update", retries=2, backoff_s=0.01)
    assert [s.method for s in seen] == ["PUT", "POST", "DELETE"]  # the swap is never repeated blindly
