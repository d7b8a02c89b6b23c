"""Schemathesis over the endpoint's OpenAPI description: every generated request gets a documented status, never a 500."""

from __future__ import annotations

import http.client as http_client
import json
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error, status_code_conformance

from tests.test_server import http

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # schemathesis against a running server


@pytest.fixture(scope="module")
def api(server: str) -> Any:
    return schemathesis.openapi.from_url(f"{server}/openapi.json")


def test_the_description_lists_every_route(api: Any) -> None:
    labels = {result.ok().label for result in api.get_all_operations()}
    assert {"GET /", "GET /examples", "GET /sparql", "POST /classify", "POST /recommend", "POST /sparql",
            "GET /sparql/", "POST /sparql/"} <= labels  # schemathesis leaves out the description's own path


def _description(server: str) -> dict[str, Any]:
    status, _, body = http(f"{server}/openapi.json")
    assert status == 200
    loaded: dict[str, Any] = json.loads(body)
    return loaded


def test_every_status_the_server_can_answer_is_described(server: str) -> None:
    paths = _description(server)["paths"]
    assert {"/", "/sparql", "/classify", "/recommend", "/examples", "/openapi.json"} <= set(paths)
    for path, operations in paths.items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            if path.endswith("/") and path != "/":
                assert codes == {"307"}, (path, method)  # Starlette's redirect to the path without the slash
                continue
            assert {"405", "500"} <= codes, (path, method, codes)
            if method == "post":
                assert {"400", "408", "413", "503"} <= codes, (path, method, codes)
    busy = paths["/sparql"]["get"]["responses"]["503"]
    assert "Retry-After" in busy["headers"] and "without" in busy["description"]


def test_the_described_extra_answers_are_real(server: str) -> None:
    status, headers, _ = http(f"{server}/sparql", method="PUT", data=b"ASK {}")
    assert status == 405 and "GET" in {k.lower(): v for k, v in headers.items()}["allow"]
    host, port = server.removeprefix("http://").split(":")
    conn = http_client.HTTPConnection(host, int(port), timeout=20)
    conn.request("GET", "/sparql/?query=ASK%7B%7D")
    response = conn.getresponse()
    assert response.status == 307 and response.getheader("location", "").endswith("/sparql?query=ASK%7B%7D")
    conn.close()


@pytest.mark.parametrize("label", ["GET /sparql", "POST /sparql", "POST /classify", "POST /recommend", "GET /examples",
                                   "GET /"])
def test_every_generated_request_gets_a_documented_status(api: Any, label: str) -> None:
    operation = api.find_operation_by_label(label)
    statuses: list[int] = []

    @settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        case = data.draw(operation.as_strategy())
        response = case.call()
        case.validate_response(response, checks=[not_a_server_error, status_code_conformance])
        assert b"Traceback" not in response.content
        statuses.append(response.status_code)

    run()
    assert statuses and all(code < 500 or code == 503 for code in statuses)
