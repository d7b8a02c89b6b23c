"""Schemathesis over the endpoint's OpenAPI description: every generated request gets a documented status, never a 500."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error, status_code_conformance


@pytest.fixture(scope="module")
def api(server: str) -> Any:
    return schemathesis.openapi.from_url(f"{server}/openapi.json")


def test_the_description_lists_every_route(api: Any) -> None:
    labels = {result.ok().label for result in api.get_all_operations()}
    assert {"GET /examples", "GET /sparql", "POST /classify", "POST /recommend", "POST /sparql"} <= labels


@pytest.mark.parametrize("label", ["GET /sparql", "POST /sparql", "POST /classify", "POST /recommend", "GET /examples"])
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
